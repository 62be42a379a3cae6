"""The outbox relay with the broker away: reports accepted, published once it returns."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import asyncpg
from litestar.testing import AsyncTestClient

from services.intake import store
from services.intake.app import create_app, topology_of
from services.intake.outbox import BrokerLink, OutboxRelay
from services.intake.settings import IntakeSettings, RelaySettings
from tests.integration.conftest import auth, drain, unique
from tests.support.proxy import TcpProxy

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "report.youth-robbery.json"


def a_report() -> dict[str, Any]:
    body = json.loads(EXAMPLE.read_text("utf-8"))
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
        assert await store.purge_published_payloads(pool, dt.timedelta(hours=1), limit=1) == 1
        assert await store.purge_published_payloads(pool, dt.timedelta(hours=1), 100) == 1
        assert await store.purge_published_payloads(pool, dt.timedelta(hours=1), 100) == 0
        kept = {
            r["report_id"]: r["payload"] is not None
            for r in await pool.fetch("SELECT report_id, payload FROM outbox")
        }
    finally:
        await pool.close()
    assert kept == {ids[0]: True, ids[1]: False, ids[2]: True, ids[3]: False}
