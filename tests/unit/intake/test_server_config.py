"""The server's bounds come from FSI_HTTP_* settings and survive the trip to a worker process."""

from __future__ import annotations

import pickle

import pytest

from services.common.settings import SettingsError, load
from services.intake.connections import BoundedHttpToolsProtocol, ServerConfig
from services.intake.settings import HttpSettings, IntakeSettings


def test_the_bounds_are_settings() -> None:
    settings = load(
        IntakeSettings,
        {
            "FSI_HTTP_MAX_HEADER_BYTES": "8192",
            "FSI_HTTP_HEADER_TIMEOUT_SECONDS": "2.5",
            "FSI_HTTP_KEEP_ALIVE_SECONDS": "3",
            "FSI_HTTP_MAX_CONNECTIONS": "50",
            "FSI_HTTP_SHUTDOWN_SECONDS": "7",
        },
    )
    assert settings.http == HttpSettings(
        max_header_bytes=8192,
        header_timeout_seconds=2.5,
        keep_alive_seconds=3,
        max_connections=50,
        shutdown_seconds=7,
    )


def test_the_defaults_bound_every_connection() -> None:
    http = HttpSettings()
    assert http.max_body_bytes == 1_048_576 < http.max_batch_body_bytes
    assert http.max_header_bytes == 16_384
    assert 0 < http.keep_alive_seconds < http.header_timeout_seconds < http.body_timeout_seconds


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FSI_HTTP_MAX_HEADER_BYTES", "100"),  # smaller than an ordinary browser's head
        ("FSI_HTTP_HEADER_TIMEOUT_SECONDS", "0"),
        ("FSI_HTTP_MAX_CONNECTIONS", "0"),
    ],
)
def test_a_bound_that_would_stop_everything_or_nothing_is_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load(IntakeSettings, {name: value})


def test_the_server_configuration_pickles_for_worker_processes() -> None:
    config = ServerConfig(
        "services.intake.main:app_factory",
        factory=True,
        http=BoundedHttpToolsProtocol,
        max_header_bytes=8192,
        header_timeout_seconds=2.5,
    )
    copy = pickle.loads(pickle.dumps(config))  # noqa: S301 - our own object
    assert copy.header_timeout_seconds == 2.5
    assert copy.http is BoundedHttpToolsProtocol
    assert copy.max_header_bytes == 8192
