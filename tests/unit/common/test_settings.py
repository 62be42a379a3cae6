"""Settings from FSI_ environment variables."""

from __future__ import annotations

import pytest

from services.common.settings import MigrateSettings, SettingsError, load


def test_defaults_without_environment() -> None:
    settings = load(MigrateSettings, {})
    assert settings.db.url.startswith("postgresql://")
    assert settings.log.format == "json"


def test_values_are_read_and_converted() -> None:
    settings = load(
        MigrateSettings,
        {
            "FSI_DB_URL": "postgresql://x/y",
            "FSI_DB_POOL_MAX": "7",
            "FSI_DB_MIGRATE_ON_START": "false",
        },
    )
    assert (settings.db.url, settings.db.pool_max, settings.db.migrate_on_start) == (
        "postgresql://x/y",
        7,
        False,
    )


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"FSI_DB_POOL_MAX": "many"}, "FSI_DB_POOL_MAX"),
        ({"FSI_DB_POOL_MAX": "0"}, "FSI_DB_POOL_MAX"),
        ({"FSI_LOG_LEVEL": "LOUD"}, "FSI_LOG_LEVEL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load(MigrateSettings, env)
