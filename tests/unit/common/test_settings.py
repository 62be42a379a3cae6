"""Settings from FSI_ environment variables."""

from __future__ import annotations

import pytest

from services.common.settings import MigrateSettings, SettingsError, load
from services.intake.settings import IntakeSettings
from services.routing.settings import RoutingSettings


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


def test_a_removed_setting_stops_the_start_naming_what_replaced_it() -> None:
    for settings in (MigrateSettings, IntakeSettings, RoutingSettings):
        with pytest.raises(SettingsError) as refused:
            load(settings, {"FSI_OPS_OVERDUE_LOOK_BACK_DAYS": "2"})
        assert "FSI_OPS_OVERDUE_LOOK_BACK_DAYS is no longer read" in str(refused.value)
        assert "set FSI_OPS_NOT_RECEIVED_AFTER_SECONDS" in str(refused.value)
    # Its replacement is read.
    read = load(IntakeSettings, {"FSI_OPS_NOT_RECEIVED_AFTER_SECONDS": "7200"})
    assert read.ops.not_received_after_seconds == 7200
