"""The outbox relay: the broker away, several relays, retention, and whatever fails after a
confirm (bounded, counted, set aside, put back)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import asyncpg
import prometheus_client
import pytest
from litestar.testing import AsyncTestClient

from services.intake import outbox_store
from services.intake.app import create_app, topology_of
from services.intake.brokerlink import BrokerLink
from services.intake.ops import Monitor
from services.intake.outbox import OutboxRelay
from services.intake.settings import IntakeSettings, OpsSettings, RelaySettings
from tests.conftest import LogCapture
from tests.integration.conftest import drain, unique
from tests.support.clients import auth
from tests.support.proxy import TcpProxy

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "report.youth-robbery.json"


def a_report() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(EXAMPLE.read_text("utf-8"))
    body.update(source="alpha-src", external_id=unique("outage"))
    return body


async def test_broker_outage_loses_nothing_and_publishes_once(
    amqp_url: str,
    intake_settings: Callable[..., IntakeSettings],
    routing_queue: aio_pika.abc.AbstractQueue,
) -> None:
    target = urlsplit(amqp_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    await proxy.start()
    through_proxy = amqp_url.replace(f":{target.port or 5672}", f":{proxy.port}", 1)
    app = create_app(intake_settings(broker_url=through_proxy), configure_logging=False)
    try:
        async with AsyncTestClient(app) as client:
            before = [
                await client.post("/v1/reports", json=a_report(), headers=auth("alpha"))
                for _ in range(5)
            ]
            assert len(await drain(routing_queue, 5)) == 5

            await proxy.cut()
            during = [
                await client.post("/v1/reports", json=a_report(), headers=auth("alpha"))
                for _ in range(20)
            ]
            assert [r.status_code for r in before + during] == [202] * 25
            ready = await client.get("/readyz")
            assert ready.status_code == 200
            await asyncio.sleep(1.0)
            assert (await client.get("/readyz")).json()["broker"] == "down"
            assert await routing_queue.get(fail=False) is None

            await proxy.restore()
            published = await drain(routing_queue, 20, within=20)
            ids = [m.message_id for m in published]
            assert sorted(ids) == sorted(r.json()["report_id"] for r in during)
            statuses = {
                (await client.get(r.headers["location"], headers=auth("alpha"))).json()["status"]
                for r in during
            }
            assert statuses == {"published"}
    finally:
        await proxy.stop()


async def test_two_relays_share_the_outbox_without_publishing_twice(
    intake_settings: Callable[..., IntakeSettings],
    routing_queue: aio_pika.abc.AbstractQueue,
    database_url: str,
) -> None:
    # Reports accepted with no relay running pile up in the outbox ...
    app = create_app(intake_settings(enabled=False), configure_logging=False)
    async with AsyncTestClient(app) as client:
        responses = [
            await client.post("/v1/reports", json=a_report(), headers=auth("alpha"))
            for _ in range(60)
        ]
    expected = {r.json()["report_id"] for r in responses}
    assert len(expected) == 60
    # ... then two relays (small batches, so they interleave) publish them together.
    settings = intake_settings()
    relay_settings = RelaySettings(batch_size=7, poll_seconds=0.1)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert pool is not None
    relays = [
        OutboxRelay(
            pool,
            database_url,
            BrokerLink(settings.broker.url, topology_of(settings)),
            relay_settings,
        )
        for _ in range(2)
    ]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        published = await drain(routing_queue, 60, within=20)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pool.close()
    ids = [m.message_id for m in published]
    assert len(ids) == len(set(ids)) == 60
    assert set(ids) == expected
    assert all(r.published_total > 0 for r in relays), [r.published_total for r in relays]


async def test_a_published_rows_copy_is_cleared_after_the_retention_and_the_status_stays(
    intake_settings: Callable[..., IntakeSettings],
    routing_queue: aio_pika.abc.AbstractQueue,
    database_url: str,
) -> None:
    app = create_app(
        intake_settings(keep_published_hours=1, purge_every_seconds=0.2), configure_logging=False
    )
    conn = await asyncpg.connect(database_url)
    try:
        async with AsyncTestClient(app) as client:
            old, fresh = [
                (await client.post("/v1/reports", json=a_report(), headers=auth("alpha"))).json()
                for _ in range(2)
            ]
            assert len(await drain(routing_queue, 2)) == 2
            await conn.execute(
                "UPDATE outbox SET published_at = now() - interval '2 hours' WHERE report_id = $1",
                uuid.UUID(old["report_id"]),
            )
            copies: dict[str, bool] = {}
            for _ in range(50):
                copies = {
                    str(r["report_id"]): r["payload"] is not None
                    for r in await conn.fetch("SELECT report_id, payload FROM outbox")
                }
                if not copies[old["report_id"]]:
                    break
                await asyncio.sleep(0.1)
            shown = await client.get(f"/v1/reports/{old['report_id']}", headers=auth("alpha"))
    finally:
        await conn.close()
    assert copies == {old["report_id"]: False, fresh["report_id"]: True}
    assert shown.status_code == 200
    assert shown.json()["status"] == "published"
    assert shown.json()["report"]["source"] == "alpha-src"  # the report row keeps it all


async def test_the_purge_leaves_pending_and_recent_rows_alone(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        ids = [uuid.uuid4() for _ in range(4)]
        for n, report_id in enumerate(ids):
            await pool.execute(
                "INSERT INTO reports (id, client_id, source, external_id, source_format,"
                " content_hash, raw_body, raw_content_type, report) VALUES ($1, 'c', 's', $2,"
                " 'canonical', '\\x00', '\\x00', 'application/json', '{}')",
                report_id,
                f"purge-{report_id}",
            )
            published = [None, 3.0, 0.5, 5.0][n]  # hours ago
            await pool.execute(
                "INSERT INTO outbox (report_id, message_type, source_format, routing_key,"
                " payload, created_at, published_at) VALUES ($1, 't', 'canonical', 'k',"
                " '\\x01', now() - interval '6 hours',"
                " now() - $2::interval)",
                report_id,
                None if published is None else dt.timedelta(hours=published),
            )
        assert (
            await outbox_store.purge_published_payloads(pool, dt.timedelta(hours=1), limit=1) == 1
        )
        assert await outbox_store.purge_published_payloads(pool, dt.timedelta(hours=1), 100) == 1
        assert await outbox_store.purge_published_payloads(pool, dt.timedelta(hours=1), 100) == 0
        kept = {
            r["report_id"]: r["payload"] is not None
            for r in await pool.fetch("SELECT report_id, payload FROM outbox")
        }
    finally:
        await pool.close()
    assert kept == {ids[0]: True, ids[1]: False, ids[2]: True, ids[3]: False}


# --- Whatever fails after the broker's confirm: bounded, counted, set aside, put back -------

# Stands for any failure after the confirm that the relay cannot get past (in the real case:
# a transaction pooler that lost the statement, a broken column, a full disk).
REFUSE_MARK = """
CREATE FUNCTION refuse_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.published_at IS NOT NULL THEN RAISE EXCEPTION 'mark refused'; END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER refuse_mark BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_mark();
"""


async def outbox_cli_run(database_url: str, *args: str) -> str:
    """`python -m services.intake.outbox_cli ARGS` as an operator runs it; its output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.intake.outbox_cli",
        *args,
        env={**os.environ, "FSI_DB_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, out
    return out.decode()


def sample(name: str) -> float:
    return prometheus_client.REGISTRY.get_sample_value(name) or 0.0


async def until(condition: Callable[[], Awaitable[bool]], within: float = 15) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_a_row_whose_mark_keeps_failing_is_published_max_attempts_times_then_set_aside(
    intake_settings: Callable[..., IntakeSettings],
    routing_queue: aio_pika.abc.AbstractQueue,
    database_url: str,
    log_capture: LogCapture,
) -> None:
    conn = await asyncpg.connect(database_url)
    await conn.execute(REFUSE_MARK)
    set_aside, unmarked = sample("fsi_outbox_set_aside_total"), sample("fsi_outbox_unmarked_total")
    app = create_app(intake_settings(claim_seconds=0.3, max_attempts=3), configure_logging=False)
    try:
        async with AsyncTestClient(app) as client:
            answer = await client.post("/v1/reports", json=a_report(), headers=auth("alpha"))
            report_id = answer.json()["report_id"]

            async def aside() -> bool:
                return bool(
                    await conn.fetchval(
                        "SELECT count(*) FROM outbox WHERE set_aside_at IS NOT NULL"
                    )
                )

            await until(aside)
            aside_status = await client.get(f"/v1/reports/{report_id}", headers=auth("alpha"))
            await asyncio.sleep(1.0)  # three claim periods more: nothing is published now
            copies = await drain(routing_queue, 3, within=5)
            row = await conn.fetchrow("SELECT attempts, unsettled, published_at FROM outbox")

            # Operators see it: on the operations page and its gauge, not as pending.
            settings = intake_settings()
            pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
            monitor = Monitor(pool, settings.broker.url, topology_of(settings), OpsSettings())
            try:
                seen = (await monitor.refresh()).outbox
            finally:
                await monitor.close()
                await pool.close()
            gauge = sample("fsi_outbox_set_aside_rows")
            # An operator repairs the cause, lists the row and puts it back.
            await conn.execute("DROP TRIGGER refuse_mark ON outbox")
            listed = await outbox_cli_run(database_url, "list")
            put_back = await outbox_cli_run(database_url, "put-back", report_id)
            again = await drain(routing_queue, 1, within=10)
            await until(lambda: _published(conn))
            status = (await client.get(f"/v1/reports/{report_id}", headers=auth("alpha"))).json()
    finally:
        await conn.close()
    assert [m.message_id for m in copies] == [report_id] * 3
    assert (row["attempts"], row["unsettled"], row["published_at"]) == (3, 3, None)
    assert sample("fsi_outbox_set_aside_total") - set_aside == 1
    assert seen is not None
    assert (seen.pending, seen.set_aside, gauge) == (0, 1, 1.0)
    assert sample("fsi_outbox_unmarked_total") - unmarked == 3
    logged = [line for _, line in log_capture.lines if "outbox row set aside" in line]
    assert any(report_id in line for line in logged), logged
    assert f"{report_id}  attempts 3" in listed
    assert "1 set aside" in listed
    assert put_back == "1 put back\n"
    assert [m.message_id for m in again] == [report_id]
    assert aside_status.json()["status"] == "set_aside"
    assert status["status"] == "published"


async def _published(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT bool_and(published_at IS NOT NULL) FROM outbox"))


async def test_a_confirmed_row_whose_mark_is_lost_is_published_once_more_after_its_claim(
    intake_settings: Callable[..., IntakeSettings],
    routing_queue: aio_pika.abc.AbstractQueue,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marks = 0
    real_mark = outbox_store.mark_published

    async def lose_first_mark(pool: asyncpg.Pool, ids: list[int]) -> None:
        nonlocal marks
        marks += 1
        if marks == 1:
            # The connection goes as the mark is sent: the relay cannot know whether it held.
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
        await real_mark(pool, ids)

    monkeypatch.setattr(outbox_store, "mark_published", lose_first_mark)
    unmarked = sample("fsi_outbox_unmarked_total")
    app = create_app(intake_settings(claim_seconds=0.5), configure_logging=False)
    conn = await asyncpg.connect(database_url)
    try:
        async with AsyncTestClient(app) as client:
            answer = await client.post("/v1/reports", json=a_report(), headers=auth("alpha"))
            copies = await drain(routing_queue, 2, within=10)
            await until(lambda: _published(conn))
            await asyncio.sleep(1.5)  # three claim periods: no third copy
            copies += await drain(routing_queue, 0, within=0.5)
        row = await conn.fetchrow("SELECT attempts, unsettled, set_aside_at FROM outbox")
    finally:
        await conn.close()
    assert [m.message_id for m in copies] == [answer.json()["report_id"]] * 2
    assert (row["attempts"], row["unsettled"], row["set_aside_at"]) == (2, 0, None)
    assert sample("fsi_outbox_unmarked_total") - unmarked == 1


async def test_a_row_the_broker_refuses_backs_off_and_is_never_set_aside(
    intake_settings: Callable[..., IntakeSettings],
    routing_queue: aio_pika.abc.AbstractQueue,
    database_url: str,
) -> None:
    app = create_app(intake_settings(enabled=False), configure_logging=False)
    async with AsyncTestClient(app) as client:
        refused, fine = [
            (await client.post("/v1/reports", json=a_report(), headers=auth("alpha"))).json()
            for _ in range(2)
        ]
    conn = await asyncpg.connect(database_url)
    # No queue is bound for this key: the broker returns the message (a failed publish).
    await conn.execute(
        "UPDATE outbox SET routing_key = 'nowhere' WHERE report_id = $1",
        uuid.UUID(refused["report_id"]),
    )
    settings = intake_settings()
    relay = OutboxRelay(
        await asyncpg.create_pool(database_url, min_size=1, max_size=2),
        database_url,
        BrokerLink(settings.broker.url, topology_of(settings)),
        RelaySettings(
            poll_seconds=0.05, reconnect_seconds=0.1, retry_max_seconds=0.4, max_attempts=1
        ),
    )
    task = asyncio.create_task(relay.run())
    try:
        published = await drain(routing_queue, 1, within=10)
        await asyncio.sleep(2.0)
        row = await conn.fetchrow(
            "SELECT attempts, unsettled, set_aside_at, last_error,"
            " extract(epoch FROM next_attempt_at - now()) AS wait FROM outbox WHERE report_id = $1",
            uuid.UUID(refused["report_id"]),
        )
    finally:
        relay.stop()
        await asyncio.wait_for(task, 10)
        await relay.pool.close()
        await conn.close()
    assert [m.message_id for m in published] == [fine["report_id"]]
    # Tried again and again (each a settled failure), never set aside, waiting at most the cap.
    assert row["attempts"] >= 3
    assert (row["unsettled"], row["set_aside_at"], row["last_error"]) == (0, None, "publish failed")
    # Doubling from 0.1 s, capped at 0.4 s: at most 2 s over 2 s means it backed off.
    assert row["attempts"] <= 12
    assert row["wait"] <= 0.4
