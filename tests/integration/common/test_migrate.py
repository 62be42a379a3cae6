"""Migrations against the real PostgreSQL: applied once, even by two processes at once."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import asyncpg
import pytest

from services.common import migrate


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
