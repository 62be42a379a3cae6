"""Migrations against the real PostgreSQL: applied once, even by two processes at once."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.common import migrate
from tests import harness


@pytest.fixture
async def empty_database(admin_db_url: str) -> AsyncIterator[str]:
    name = f"fsi_mig_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_db_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    yield harness.with_database(admin_db_url, name)
    admin = await asyncpg.connect(admin_db_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


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
    outputs = sorted(out for _, out in results)
    # One process applied everything; the other waited on the lock and found nothing to do.
    assert "none (up to date)" in outputs[1] or "none (up to date)" in outputs[0]
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
