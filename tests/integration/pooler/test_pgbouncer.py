"""The intake and the migrations through a real PgBouncer in transaction pooling mode.

PgBouncer is configured as tests/data/real_inputs/pgbouncer.ini (pool_mode = transaction,
10 server connections per database): each transaction of a client may meet another server
connection, so a statement prepared on one is unknown on the next and a session lock stays
on whichever server connection took it.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.common import db, migrate
from services.common.settings import DatabaseSettings
from services.common.topology import Topology
from services.intake.app import create_app
from services.intake.settings import IntakeSettings, StandardiseSettings
from services.routing.main import load_rules, serve
from services.routing.settings import RoutingSettings
from tests import harness
from tests.conftest import LogCapture, as_login
from tests.integration.conftest import drain, unique
from tests.support.clients import auth

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "schemas" / "examples" / "report.youth-robbery.json"
POSTS = 300


def a_report() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(EXAMPLE.read_text("utf-8"))
    body.update(source="alpha-src", external_id=unique("pooled"))
    return body


def through(pgbouncer: harness.PgBouncer, database_url: str) -> str:
    """The same login and database, through PgBouncer."""
    parts = urlsplit(database_url)
    login = parts.netloc.rpartition("@")[0]
    where = f"127.0.0.1:{pgbouncer.port}"
    return urlunsplit(parts._replace(netloc=f"{login}@{where}" if login else where))


async def test_300_concurrent_posts_are_accepted_ready_and_published_exactly_once(
    pgbouncer: harness.PgBouncer,
    database_url: str,
    intake_settings: Callable[..., IntakeSettings],
    routing_queue: aio_pika.abc.AbstractQueue,
) -> None:
    # A short claim: a row published but never marked would be published again within the
    # wait below, and counted twice.
    base = intake_settings(claim_seconds=1.0)
    settings = msgspec.structs.replace(
        base,
        db=DatabaseSettings(
            url=through(pgbouncer, base.db.url), pool_min=4, pool_max=16, pooler="transaction"
        ),
    )
    async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
        answers = await asyncio.gather(
            *(
                client.post("/v1/reports", json=a_report(), headers=auth("alpha"))
                for _ in range(POSTS)
            )
        )
        ready = await client.get("/readyz")
        published = await drain(routing_queue, POSTS, within=60)
        await asyncio.sleep(3)  # three claim periods: any republish would arrive now
        published += await drain(routing_queue, 0, within=1)
    assert collections.Counter(r.status_code for r in answers) == {202: POSTS}, [
        r.text for r in answers if r.status_code != 202
    ][:3]
    assert (ready.status_code, ready.json()["database"]) == (200, "up")
    accepted = {r.json()["report_id"] for r in answers}
    per_report = collections.Counter(m.message_id for m in published)
    assert set(per_report) == accepted
    assert set(per_report.values()) == {1}, per_report.most_common(3)
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT published_at, attempts, unsettled FROM outbox")
    finally:
        await conn.close()
    assert len(rows) == POSTS
    assert all(r["published_at"] is not None for r in rows)
    assert {(r["attempts"], r["unsettled"]) for r in rows} == {(1, 0)}


async def _migrate_process(url: str, within: float = 60) -> tuple[int, str]:
    """`python -m services.common.migrate` against `url`; (-1, output) if it hangs."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.common.migrate",
        env={**os.environ, "FSI_DB_URL": url, "FSI_LOG_FORMAT": "json"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        out, _ = await process.communicate()
        return -1, out.decode()
    return process.returncode or 0, out.decode()


def _applied(output: str) -> list[int]:
    """The versions a migration run says it applied."""
    last = output.strip().splitlines()[-1]
    return [] if "none (up to date)" in last else list(json.loads(last.split(": ", 1)[1]))


async def _advisory_locks(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT granted, pid FROM pg_locks WHERE locktype = 'advisory'"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    )


async def test_two_migrations_at_once_both_end_leave_no_lock_and_the_next_start_does_not_hang(
    pgbouncer: harness.PgBouncer, empty_database: str
) -> None:
    pooled = through(pgbouncer, empty_database)
    # Hold the migrations' lock directly, so both runs certainly wait on it at once.
    holder = await asyncpg.connect(empty_database)
    transaction = holder.transaction()
    await transaction.start()
    await holder.execute("SELECT pg_advisory_xact_lock($1)", migrate.LOCK_KEY)
    running = asyncio.gather(*(_migrate_process(pooled) for _ in range(2)))
    waiting = 0
    for _ in range(150):
        waiting = sum(not r["granted"] for r in await _advisory_locks(holder))
        if waiting == 2:
            break
        await asyncio.sleep(0.1)
    await transaction.commit()
    results = await running
    try:
        assert waiting == 2
        assert [code for code, _ in results] == [0, 0], results
        # Each file applied once, by one run or the other.
        applied = [_applied(out) for _, out in results]
        assert sorted(applied[0] + applied[1]) == [m.version for m in migrate.discover()], results
        assert await _advisory_locks(holder) == []
        # The next start: not held up by anything the two runs left behind.
        again = await _migrate_process(pooled, within=20)
        assert again[0] == 0, again
        assert "none (up to date)" in again[1]
        versions = [
            r["version"] for r in await holder.fetch("SELECT version FROM schema_migrations")
        ]
        assert sorted(versions) == [m.version for m in migrate.discover()]
    finally:
        await holder.close()


async def test_a_failing_migration_through_the_pooler_leaves_no_lock(
    pgbouncer: harness.PgBouncer, empty_database: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE ok (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    pooled = through(pgbouncer, empty_database)
    first = await asyncpg.connect(pooled, statement_cache_size=0)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate.apply(first, migrate.discover(tmp_path))
        (tmp_path / "0002_bad.sql").write_text("CREATE TABLE whole (id int);")
        second = await asyncpg.connect(pooled, statement_cache_size=0)
        try:
            applied = await asyncio.wait_for(migrate.apply(second, migrate.discover(tmp_path)), 20)
        finally:
            await second.close()
    finally:
        await first.close()
    assert applied == [2]
    direct = await asyncpg.connect(empty_database)
    try:
        assert await _advisory_locks(direct) == []
        assert await direct.fetchval("SELECT to_regclass('half')") is None
    finally:
        await direct.close()


async def test_readiness_needs_the_services_tables_not_only_an_answer(
    empty_database: str,
    service_logins: dict[str, str],
    intake_settings: Callable[..., IntakeSettings],
) -> None:
    # PostgreSQL answers, but the intake's statements cannot run: not ready.
    url = as_login(empty_database, service_logins["intake"])
    settings = msgspec.structs.replace(
        intake_settings(enabled=False),
        db=DatabaseSettings(url=url, pool_min=1, pool_max=2, migrate_on_start=False),
    )
    async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
        ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()["database"]) == (503, "down")


async def test_a_pool_without_the_setting_behind_a_pooler_warns(
    pgbouncer: harness.PgBouncer, intake_database_url: str, log_capture: LogCapture
) -> None:
    seen = len(log_capture.lines)
    settings = DatabaseSettings(
        url=through(pgbouncer, intake_database_url), pool_min=1, pool_max=1, migrate_on_start=False
    )
    pool = await db.create_pool(settings)
    await pool.close()
    direct = await db.create_pool(
        DatabaseSettings(url=intake_database_url, pool_min=1, pool_max=1, migrate_on_start=False)
    )
    await direct.close()
    warnings = [line for _, line in log_capture.lines[seen:] if "FSI_DB_POOLER" in line]
    assert len(warnings) == 1, warnings


async def test_the_router_decides_and_routes_every_report_through_the_pooler(
    pgbouncer: harness.PgBouncer,
    database_url: str,
    intake_settings: Callable[..., IntakeSettings],
    router_settings: Callable[..., RoutingSettings],
    make_topology: Callable[..., Topology],
) -> None:
    # Each service as its own login, through the pooler.
    base = intake_settings()
    routing = router_settings(
        url=through(pgbouncer, router_settings().db.url),
        pool_min=2,
        pool_max=8,
        pooler="transaction",
    )
    make_topology(units=load_rules(routing).catalogue.units)  # its queues are deleted after
    settings = msgspec.structs.replace(
        base,
        db=DatabaseSettings(
            url=through(pgbouncer, base.db.url), pool_min=2, pool_max=8, pooler="transaction"
        ),
        standardise=StandardiseSettings(accept_synthetic_ids=True),
    )
    stop, started = asyncio.Event(), asyncio.Event()
    async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
        router = asyncio.create_task(serve(routing, stop, on_start=lambda _: started.set()))
        try:
            await asyncio.wait_for(started.wait(), 30)
            answers = await asyncio.gather(
                *(
                    client.post("/v1/reports", json=a_report(), headers=auth("alpha"))
                    for _ in range(100)
                )
            )
            ids = [r.json()["report_id"] for r in answers]
            statuses: collections.Counter[str] = collections.Counter()
            for _ in range(300):
                statuses = collections.Counter(
                    [
                        (await client.get(f"/v1/reports/{i}", headers=auth("alpha"))).json()[
                            "status"
                        ]
                        for i in ids
                    ]
                )
                # A triage case is `waiting` (the work list) once its queue confirmed it.
                if statuses["routed"] + statuses["waiting"] == len(ids):
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await asyncio.wait_for(router, 30)
    assert collections.Counter(r.status_code for r in answers) == {202: 100}
    assert statuses["routed"] + statuses["waiting"] == 100, statuses
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM decisions") == 100
    finally:
        await conn.close()
