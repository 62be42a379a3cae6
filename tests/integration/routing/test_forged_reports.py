"""A message is only a trigger: the router decides on, and publishes, the report as the intake
stored it. A body under a real report id that is not the message the intake published is
dead-lettered (`report_differs`), before or after the genuine one, redelivered or not, and
never reaches a unit or the append-only decisions."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import aio_pika
import asyncpg
import msgspec
from prometheus_client import REGISTRY

from schemas.envelope import CaseRouted
from services.common import migrate
from services.common.topology import REPORT_ACCEPTED_KEY
from services.routing.deliveries import REPORT_DIFFERS
from services.routing.main import serve
from services.routing.settings import RoutingSettings
from tests.integration.stack import Stack, example, take, wait_routed
from tests.support.clients import auth

GENUINE_UNIT = "trondelag.vold-naere-relasjoner"  # domestic violence, custody: critical


async def post(stack: Stack, name: str, **changes: Any) -> str:
    posted = await stack.intake.post(
        "/v1/reports", json=example(name, **changes), headers=auth("alpha")
    )
    assert posted.status_code == 202, posted.text
    return str(posted.json()["report_id"])


async def published_payload(stack: Stack, report_id: str) -> bytes:
    """The message the intake published for the report, once the relay has published it."""
    conn = await asyncpg.connect(stack.database_url)
    try:
        for _ in range(300):
            row = await conn.fetchrow(
                "SELECT payload, published_at FROM outbox WHERE report_id = $1",
                uuid.UUID(report_id),
            )
            if row is not None and row["published_at"] is not None:
                return bytes(row["payload"])
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"{report_id} was never published")


def forged(payload: bytes, **report: Any) -> bytes:
    """The genuine message with its report changed: a body anyone able to publish could send."""
    envelope = json.loads(payload)
    envelope["report"].update(report)
    return json.dumps(envelope).encode()


def other_person_other_text(payload: bytes) -> bytes:
    incident = json.loads(payload)["report"]["incident"]
    return forged(
        payload,
        incident={**incident, "description": "Forfalsket tekst om en annen sak."},
        persons=[{"role": "suspect", "name": "Forfalsket Person"}],
    )


async def publish(stack: Stack, body: bytes, report_id: str) -> None:
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    await reports.publish(
        aio_pika.Message(body, message_id=report_id), routing_key=REPORT_ACCEPTED_KEY
    )


async def decision_of(stack: Stack, report_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.database_url)
    try:
        return list(
            await conn.fetch(
                "SELECT unit, priority, deadline_at, deadline_rule FROM decisions"
                " WHERE report_id = $1",
                uuid.UUID(report_id),
            )
        )
    finally:
        await conn.close()


async def dead_letter_codes(stack: Stack, report_id: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(stack.database_url)
    try:
        rows = await conn.fetch(
            "SELECT code, reason FROM dead_letters WHERE report_id = $1 ORDER BY id",
            uuid.UUID(report_id),
        )
    finally:
        await conn.close()
    return [(r["code"], r["reason"]) for r in rows]


def differs_counted() -> float:
    return (
        REGISTRY.get_sample_value("fsi_routing_dead_letters_total", {"reason": "report_differs"})
        or 0.0
    )


async def empty(queue: aio_pika.abc.AbstractQueue) -> bool:
    """Whether the queue holds nothing (after a moment for a case on its way)."""
    await asyncio.sleep(0.5)
    return await queue.get(fail=False) is None


async def until_any(stack: Stack, names: list[str]) -> None:
    """Until one of the named queues holds a message (or 15 s have passed)."""
    for _ in range(300):
        for name in names:
            declared = await stack.channel.declare_queue(name, passive=True)
            if declared.declaration_result.message_count:
                return
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def router(settings: RoutingSettings) -> AsyncIterator[None]:
    """A router of the stack's settings, started anew (the stack's own one stopped)."""
    stop = asyncio.Event()
    started: list[Any] = []
    task = asyncio.create_task(serve(settings, stop, on_start=started.append))
    try:
        for _ in range(200):
            if started or task.done():
                break
            await asyncio.sleep(0.05)
        assert started, "the router did not start"
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def drain_routing_queue(stack: Stack, count: int) -> None:
    """Take the reports' own messages off the routing queue (the router is stopped), so the
    test decides what it holds, in which order."""
    routing = await stack.queue(stack.topology.routing_queue.name)
    assert len(await take(routing, count)) == count


async def test_a_forged_body_under_a_routed_report_is_dead_lettered_and_the_case_stands(
    stack: Stack,
) -> None:
    """(a) While the router runs, the genuine report's id is published again with another
    person and another text, then the genuine message again (as an operator's republish):
    the unit receives only the genuine case, the forged one is dead-lettered."""
    report_id = await post(stack, "domestic-violence")
    await wait_routed(stack.database_url, 1)
    unit = await stack.queue(stack.topology.unit_queue(GENUINE_UNIT).name)
    (first,) = await take(unit, 1)
    genuine = msgspec.json.decode(first.body, type=CaseRouted)
    payload = await published_payload(stack, report_id)
    standing = await decision_of(stack, report_id)
    counted = differs_counted()

    await publish(stack, other_person_other_text(payload), report_id)
    await publish(stack, payload, report_id)

    (again,) = await take(unit, 1)
    assert b"Forfalsket" not in again.body
    assert msgspec.json.decode(again.body, type=CaseRouted) == genuine
    assert await empty(unit)
    assert await decision_of(stack, report_id) == standing
    (dead,) = await take(await stack.queue(stack.topology.dead_letter_queue.name), 1)
    assert dead.message_id == report_id
    assert dead.headers["x-fsi-reason"] == REPORT_DIFFERS
    assert await dead_letter_codes(stack, report_id) == [("report_differs", REPORT_DIFFERS)]
    assert differs_counted() == counted + 1
    # The report was routed; a forged copy does not change what its sender reads.
    shown = (await stack.intake.get(f"/v1/reports/{report_id}", headers=auth("alpha"))).json()
    assert (shown["status"], shown["decision"]["unit"]) == ("routed", GENUINE_UNIT)


async def test_a_forged_body_published_before_the_genuine_one_is_not_decided(
    stack: Stack, router_settings: Callable[..., RoutingSettings]
) -> None:
    """(b) With the router stopped, an Oslo theft without persons is published under the id
    of a domestic-violence custody report of Trøndelag, before that report's own message:
    once started, the router decides the genuine report (unit, priority, deadline)."""
    await stack.stop_router()
    report_id = await post(stack, "domestic-violence")
    theft_id = await post(stack, "bicycle-theft", persons=[])
    payload = await published_payload(stack, report_id)
    theft = await published_payload(stack, theft_id)
    await drain_routing_queue(stack, 2)
    # A valid message of the contract, but of another report's content.
    await publish(stack, theft.replace(theft_id.encode(), report_id.encode()), report_id)
    await publish(stack, payload, report_id)

    async with router(router_settings()):
        await wait_routed(stack.database_url, 1)
        (decision,) = await decision_of(stack, report_id)
        assert (decision["unit"], decision["priority"]) == (GENUINE_UNIT, "critical")
        assert decision["deadline_rule"] == "custody-adult"
        assert decision["deadline_at"] is not None
        unit = await stack.queue(stack.topology.unit_queue(GENUINE_UNIT).name)
        (case,) = await take(unit, 1)
        (dead,) = await take(await stack.queue(stack.topology.dead_letter_queue.name), 1)
    assert (dead.message_id, dead.headers["x-fsi-reason"]) == (report_id, REPORT_DIFFERS)
    routed = msgspec.json.decode(case.body, type=CaseRouted)
    assert routed.report_id == uuid.UUID(report_id)
    assert routed.report.incident.municipality == "5001"
    oslo = await stack.queue(stack.topology.unit_queue("oslo.felles-etterforskning").name)
    assert await empty(oslo)


async def test_a_redelivered_forged_message_is_not_republished(
    stack: Stack, router_settings: Callable[..., RoutingSettings]
) -> None:
    """(c) A forged message for a report already decided, delivered once and returned to
    the queue (redelivered, as after a router's crash), is dead-lettered, not published
    with the stored decision."""
    report_id = await post(stack, "domestic-violence")
    await wait_routed(stack.database_url, 1)
    unit = await stack.queue(stack.topology.unit_queue(GENUINE_UNIT).name)
    assert len(await take(unit, 1)) == 1
    payload = await published_payload(stack, report_id)
    await stack.stop_router()

    await publish(stack, other_person_other_text(payload), report_id)
    routing = await stack.queue(stack.topology.routing_queue.name)
    delivered = None
    for _ in range(100):
        if (delivered := await routing.get(fail=False)) is not None:
            break
        await asyncio.sleep(0.05)
    assert delivered is not None
    await delivered.nack(requeue=True)  # back to the queue: delivered again, redelivered

    async with router(router_settings()):
        # Until the router has settled it: dead-lettered, or (the attack) published.
        await until_any(stack, [stack.topology.dead_letter_queue.name, unit.name])
        assert await empty(unit)
        (dead,) = await take(await stack.queue(stack.topology.dead_letter_queue.name), 1)
        assert dead.headers["x-fsi-reason"] == REPORT_DIFFERS
    assert await dead_letter_codes(stack, report_id) == [("report_differs", REPORT_DIFFERS)]


async def test_a_report_stored_before_digests_is_compared_with_the_stored_report(
    stack: Stack,
) -> None:
    """A report of before migration 0008 whose message copy was cleared keeps no digest: a
    body whose report differs from the stored one is dead-lettered; the genuine message is
    routed, with the stored report."""
    report_id = await post(stack, "domestic-violence")
    payload = await published_payload(stack, report_id)
    await wait_routed(stack.database_url, 1)
    unit = await stack.queue(stack.topology.unit_queue(GENUINE_UNIT).name)
    (first,) = await take(unit, 1)
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute(
            "UPDATE reports SET message_sha256 = NULL WHERE id = $1", uuid.UUID(report_id)
        )
    finally:
        await conn.close()

    await publish(stack, other_person_other_text(payload), report_id)
    # Alike field by field, written otherwise: passes, and the stored report goes on.
    await publish(stack, json.dumps(json.loads(payload), indent=1).encode(), report_id)

    (again,) = await take(unit, 1)
    assert msgspec.json.decode(again.body, type=CaseRouted) == msgspec.json.decode(
        first.body, type=CaseRouted
    )
    assert await empty(unit)
    (dead,) = await take(await stack.queue(stack.topology.dead_letter_queue.name), 1)
    assert dead.headers["x-fsi-reason"] == REPORT_DIFFERS


async def test_the_intake_keeps_the_digest_of_the_message_it_publishes(stack: Stack) -> None:
    report_id = await post(stack, "bicycle-theft")
    payload = await published_payload(stack, report_id)
    conn = await asyncpg.connect(stack.database_url)
    try:
        kept = await conn.fetchval(
            "SELECT message_sha256 FROM reports WHERE id = $1", uuid.UUID(report_id)
        )
    finally:
        await conn.close()
    assert bytes(kept) == hashlib.sha256(payload).digest()


async def test_the_migration_keeps_the_digest_of_every_message_still_held(
    empty_database: str,
) -> None:
    """Migration 0008 fills the digest where the outbox still holds the message, and leaves
    none where the copy was cleared."""
    everything = migrate.discover()
    conn = await asyncpg.connect(empty_database)
    try:
        await migrate.apply(conn, [m for m in everything if m.version < 8])
        held, cleared = uuid.uuid4(), uuid.uuid4()
        for report_id, payload in ((held, b'{"a message": 1}'), (cleared, None)):
            await conn.execute(
                "INSERT INTO reports (id, client_id, source, external_id, source_format,"
                " content_hash, raw_body, raw_content_type, report)"
                " VALUES ($1, 'c', 's', $2, 'canonical', '\\x00', '\\x00', 'x', '{}')",
                report_id,
                str(report_id),
            )
            await conn.execute(
                "INSERT INTO outbox (report_id, message_type, source_format, routing_key,"
                " payload, published_at) VALUES ($1, 't', 'canonical', 'k', $2, now())",
                report_id,
                payload,
            )
        await migrate.apply(conn, everything)
        kept = {
            r["id"]: r["message_sha256"]
            for r in await conn.fetch("SELECT id, message_sha256 FROM reports")
        }
    finally:
        await conn.close()
    assert kept == {held: hashlib.sha256(b'{"a message": 1}').digest(), cleared: None}
