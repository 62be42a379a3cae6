"""The database settings for a direct connection and for a transaction pooler (PgBouncer)."""

from __future__ import annotations

import pytest

from services.common.settings import MigrateSettings, SettingsError, load

POOLED = "postgresql://fsi@pgbouncer:6432/fsi"
DIRECT = "postgresql://fsi@postgres:5432/fsi"


def test_direct_by_default_named_statements_listen_and_migrate_on_the_url() -> None:
    db = load(MigrateSettings, {"FSI_DB_URL": DIRECT}).db
    assert (db.pooler, db.statement_cache_size) == ("none", 100)
    assert (db.session_url, db.migrate_url) == (DIRECT, DIRECT)


def test_a_transaction_pooler_has_no_named_statements_and_no_session() -> None:
    db = load(MigrateSettings, {"FSI_DB_URL": POOLED, "FSI_DB_POOLER": "transaction"}).db
    assert db.statement_cache_size == 0
    # LISTEN would be lost on a server connection handed back after each transaction:
    # without a direct URL there is none, and the relay polls.
    assert db.session_url is None
    # Migrations hold only transaction-level locks, so they may go through the pooler.
    assert db.migrate_url == POOLED


def test_a_direct_url_beside_the_pooler_serves_listen_and_migrations() -> None:
    db = load(
        MigrateSettings,
        {"FSI_DB_URL": POOLED, "FSI_DB_POOLER": "transaction", "FSI_DB_DIRECT_URL": DIRECT},
    ).db
    assert (db.url, db.statement_cache_size) == (POOLED, 0)
    assert (db.session_url, db.migrate_url) == (DIRECT, DIRECT)


@pytest.mark.parametrize("value", ["session", "statement", "yes", ""])
def test_an_unknown_pooler_mode_names_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match=r"^invalid setting FSI_DB_POOLER: "):
        load(MigrateSettings, {"FSI_DB_POOLER": value})


def test_a_check_across_fields_still_names_its_concern() -> None:
    with pytest.raises(SettingsError, match="FSI_DB_POOL_MIN is larger than FSI_DB_POOL_MAX"):
        load(MigrateSettings, {"FSI_DB_POOL_MIN": "20", "FSI_DB_POOL_MAX": "10"})
