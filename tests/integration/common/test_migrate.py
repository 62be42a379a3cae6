"""Migrations against the real PostgreSQL: applied once, even by two processes at once."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from services.common import db, migrate, startup
from services.common.settings import DatabaseSettings
from tests.conftest import as_login
from tests.harness import with_database


async def _run_migrate_process(url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.common.migrate",
        env={**os.environ, "FSI_DB_URL": url, "FSI_LOG_FORMAT": "json"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode()


def _applied(output: str) -> list[int]:
    """The versions a `fsi-migrate` run says it applied."""
    last = output.strip().splitlines()[-1]
    return [] if "none (up to date)" in last else json.loads(last.split(": ", 1)[1])


async def test_two_processes_migrate_at_once(empty_database: str) -> None:
    # Hold the lock first, so both processes are certainly waiting on it at the same time.
    holder = await asyncpg.connect(empty_database)
    await holder.execute("SELECT pg_advisory_lock($1)", migrate.LOCK_KEY)
    running = asyncio.gather(*(_run_migrate_process(empty_database) for _ in range(2)))
    waiters = 0
    for _ in range(100):
        waiters = await holder.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        if waiters == 2:
            break
        await asyncio.sleep(0.1)
    await holder.execute("SELECT pg_advisory_unlock($1)", migrate.LOCK_KEY)
    await holder.close()
    assert waiters == 2
    results = await running
    assert [code for code, _ in results] == [0, 0], results
    # Each file applied once, by one process or the other (each takes the lock per file).
    applied = [_applied(out) for _, out in results]
    assert sorted(applied[0] + applied[1]) == [m.version for m in migrate.discover()], results
    conn = await asyncpg.connect(empty_database)
    try:
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
        assert versions == [m.version for m in migrate.discover()]
        assert await conn.fetchval("SELECT count(*) FROM reports") == 0
    finally:
        await conn.close()


async def test_changed_applied_migration_is_refused(empty_database: str, tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t1 (id int);")
    conn = await asyncpg.connect(empty_database)
    try:
        assert await migrate.apply(conn, migrate.discover(tmp_path)) == [1]
        assert await migrate.apply(conn, migrate.discover(tmp_path)) == []
        (tmp_path / "0001_first.sql").write_text("CREATE TABLE t2 (id int);")
        with pytest.raises(migrate.MigrationError, match="0001_first was changed"):
            await migrate.apply(conn, migrate.discover(tmp_path))
    finally:
        await conn.close()


async def test_failing_migration_leaves_nothing_half_applied(
    empty_database: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await asyncpg.connect(empty_database)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate.apply(conn, migrate.discover(tmp_path))
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 1
    finally:
        await conn.close()


def test_a_run_that_finds_no_migration_files_is_an_error_naming_the_directory(
    tmp_path: Path,
) -> None:
    # An install without its package data must not "migrate" nothing and start.
    with pytest.raises(migrate.MigrationError, match=f"no migration files .* in {tmp_path}$"):
        migrate.discover(tmp_path)
    (tmp_path / "README.md").write_text("not a migration")
    with pytest.raises(migrate.MigrationError, match="no migration files"):
        migrate.discover(tmp_path)
    with pytest.raises(migrate.MigrationError, match=str(tmp_path / "absent")):
        migrate.discover(tmp_path / "absent")


async def test_fsi_migrate_answers_an_unreachable_database_in_one_line() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out = await _run_migrate_process(f"postgresql://fsi:s3cret@127.0.0.1:{port}/fsi")
    assert code != 0
    assert out.splitlines() == [
        f"fsi-migrate: cannot reach PostgreSQL at 127.0.0.1:{port} ({out.split('(')[-1]}".rstrip()
    ]
    assert "(FSI_DB_URL): connection refused" in out  # the setting, and why
    assert code == 69  # EX_UNAVAILABLE: starting again later can help
    assert "s3cret" not in out


async def test_a_migration_cut_off_midway_leaves_no_lock_and_the_next_run_applies_it(
    empty_database: str, admin_db_url: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_slow.sql").write_text("CREATE TABLE slow (id int); SELECT pg_sleep(60);")
    first = await asyncpg.connect(empty_database)
    running = asyncio.create_task(migrate.apply(first, migrate.discover(tmp_path)))
    admin = await asyncpg.connect(admin_db_url)
    try:
        for _ in range(100):
            if await admin.fetchval(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE"
                " '%pg_sleep(60)%' AND pid <> pg_backend_pid()"
            ):
                break
            await asyncio.sleep(0.1)
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
            await asyncio.wait_for(running, 20)
    finally:
        await admin.close()
        first.terminate()
    (tmp_path / "0001_slow.sql").write_text("CREATE TABLE slow (id int);")
    second = await asyncpg.connect(empty_database)
    try:
        assert await asyncio.wait_for(migrate.apply(second, migrate.discover(tmp_path)), 20) == [1]
        assert (
            await second.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
        )
    finally:
        await second.close()


# --- The roles of migration 0009 ----------------------------------------------------------


def _roles_migration(prefix: str) -> migrate.Migration:
    """Migration 0009 making roles of the test's own (`<prefix>_owner`, ...) in place of the
    server's, which every test run shares and none may drop."""
    found = next(m for m in migrate.discover() if m.name == "database_roles")
    sql = found.sql
    for role in ("owner", "intake", "router"):
        sql = sql.replace(f"fsi_{role}", f"{prefix}_{role}")
    return migrate.Migration(found.version, found.name, sql)


async def test_two_databases_creating_the_roles_at_once_both_migrate(
    admin_db_url: str, empty_database: str
) -> None:
    prefix = f"fsi_t{uuid.uuid4().hex[:8]}"
    other = with_database(admin_db_url, f"{empty_database.rsplit('/', 1)[1]}_b")
    admin = await asyncpg.connect(admin_db_url)
    await admin.execute(f'CREATE DATABASE "{other.rsplit("/", 1)[1]}"')
    roles = _roles_migration(prefix)
    before = [m for m in migrate.discover() if m.version < roles.version]
    first, second = await asyncpg.connect(empty_database), await asyncpg.connect(other)
    try:
        for conn in (first, second):
            await migrate.apply(conn, before)
        # A migration of the first database is making the owner role, not yet committed: the
        # second's creation of it waits for that one, which then commits.
        racing = first.transaction()
        await racing.start()
        await first.execute(f"CREATE ROLE {prefix}_owner NOLOGIN")
        running = asyncio.create_task(migrate.apply(second, [roles]))
        waiting = False
        for _ in range(100):
            waiting = await admin.fetchval(
                "SELECT count(*) = 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = $1",
                other.rsplit("/", 1)[1],
            )
            if waiting:
                break
            await asyncio.sleep(0.1)
        await racing.commit()
        assert waiting
        assert await asyncio.wait_for(running, 20) == [roles.version]
        assert await migrate.apply(first, [roles]) == [roles.version]
        for conn in (first, second):
            assert await conn.fetchval(
                "SELECT has_table_privilege($1, 'outbox', 'INSERT')"
                " AND NOT has_table_privilege($1, 'outbox', 'TRUNCATE')"
                " AND pg_get_userbyid(relowner) = $2 FROM pg_class WHERE relname = 'outbox'",
                f"{prefix}_intake",
                f"{prefix}_owner",
            )
    finally:
        await first.close()
        await second.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{other.rsplit("/", 1)[1]}" WITH (FORCE)')
        cleanup = await asyncpg.connect(empty_database)
        try:
            for role in ("intake", "router", "owner"):
                if await admin.fetchval(
                    "SELECT 1 FROM pg_roles WHERE rolname = $1", f"{prefix}_{role}"
                ):
                    await cleanup.execute(f"DROP OWNED BY {prefix}_{role}")
                    await admin.execute(f"DROP ROLE {prefix}_{role}")
        finally:
            await cleanup.close()
            await admin.close()


async def test_later_migrations_run_as_the_owner_and_a_service_login_cannot_apply_one(
    database_url: str, intake_database_url: str, tmp_path: Path
) -> None:
    later = migrate.Migration(9999, "later", "CREATE TABLE later (id int);")
    as_intake = await asyncpg.connect(intake_database_url)
    try:
        # Up to date: a service's login "migrates" by reading only.
        assert await migrate.apply(as_intake, migrate.discover()) == []
        with pytest.raises(
            migrate.MigrationError, match="9999_later is pending, and this login may not"
        ):
            await migrate.apply(as_intake, [*migrate.discover(), later])
    finally:
        await as_intake.close()
    conn = await asyncpg.connect(database_url)  # the superuser, a member of every role
    try:
        assert await migrate.apply(conn, [*migrate.discover(), later]) == [9999]
        owners = await conn.fetch(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = current_schema()"
        )
        assert [r["tableowner"] for r in owners] == ["fsi_owner"]
    finally:
        await conn.close()


async def test_a_service_that_does_not_migrate_refuses_to_start_while_one_is_missing(
    empty_database: str, service_logins: dict[str, str]
) -> None:
    settings = DatabaseSettings(
        url=as_login(empty_database, service_logins["intake"]), pool_min=1, pool_max=1
    )
    with pytest.raises(startup.StartupError) as refused:
        await db.open_database(settings)
    line = str(refused.value)
    assert line.startswith("PostgreSQL at 127.0.0.1:5432 (FSI_DB_URL) lacks migrations 0001_")
    assert line.endswith("run fsi-migrate first (FSI_DB_MIGRATE_ON_START is off)")
    assert refused.value.exit_code == startup.EXIT_UNAVAILABLE  # again once migrated
    assert "fsi_test_intake" not in line
