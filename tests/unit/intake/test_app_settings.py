"""The intake refuses to start without a usable clients file, saying which setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.settings import SettingsError, load
from services.intake.app import create_app
from services.intake.settings import AccessSettings, IntakeSettings


@pytest.mark.parametrize(
    ("clients_file", "why"),
    [("", "required"), ("/no/such/file.yaml", "No such file"), ("BROKEN", "clients")],
)
def test_clients_file_problems_name_the_setting(
    tmp_path: Path, clients_file: str, why: str
) -> None:
    if clients_file == "BROKEN":
        clients_file = str(tmp_path / "clients.yaml")
        Path(clients_file).write_text("clients: [{id: x}]", "utf-8")
    settings = IntakeSettings(access=AccessSettings(clients_file=clients_file))
    with pytest.raises(SettingsError, match=f"FSI_ACCESS_CLIENTS_FILE.*{why}"):
        create_app(settings, configure_logging=False)


def test_intake_settings_from_environment() -> None:
    settings = load(
        IntakeSettings,
        {
            "FSI_HTTP_PORT": "9000",
            "FSI_RELAY_POLL_SECONDS": "0.5",
            "FSI_BROKER_QUEUE_TYPE": "quorum",
        },
    )
    assert (settings.http.port, settings.relay.poll_seconds, settings.broker.queue_type) == (
        9000,
        0.5,
        "quorum",
    )
