"""Migrations on start follow FSI_ENVIRONMENT unless FSI_DB_MIGRATE_ON_START says otherwise."""

from __future__ import annotations

import pytest

from services.common.settings import DatabaseSettings, MigrateSettings, load
from services.intake.settings import IntakeSettings


@pytest.mark.parametrize(
    ("env", "migrates"),
    [
        ({}, False),  # production, the default: a deployment migrates in a step of its own
        ({"FSI_ENVIRONMENT": "production"}, False),
        ({"FSI_ENVIRONMENT": "development"}, True),
        ({"FSI_ENVIRONMENT": "production", "FSI_DB_MIGRATE_ON_START": "true"}, True),
        ({"FSI_ENVIRONMENT": "development", "FSI_DB_MIGRATE_ON_START": "false"}, False),
    ],
)
def test_the_default_follows_the_environment(env: dict[str, str], migrates: bool) -> None:
    assert load(IntakeSettings, env).db.migrate_on_start is migrates
    assert load(MigrateSettings, env).db.migrate_on_start is migrates


def test_settings_built_in_code_do_not_migrate_unless_asked() -> None:
    assert not DatabaseSettings().migrate_on_start
    assert DatabaseSettings(migrate_on_start=True).migrate_on_start
