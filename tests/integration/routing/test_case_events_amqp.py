"""Case events over AMQP against the real RabbitMQ and PostgreSQL: a unit publishes to the
case-events exchange under its own unit id, the router applies what holds and dead-letters
the rest with its reason, and a router killed between applying and acknowledging loses
nothing (the redelivered events are repeats)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import asyncpg
import pytest
from prometheus_client import REGISTRY

from schemas.caseevents import CASE_EVENT_TYPE
from services.common.topology import Topology
from tests.integration.routing.crash import router_env, routers, until_empty
from tests.integration.stack import Stack, example, held_case, take
from tests.support.clients import auth

pytestmark = pytest.mark.integration

OTHER_UNIT = "vest.barn-og-unge"


def event(report_id: str, unit: str, kind: str = "received", **changes: Any) -> dict[str, Any]:
    """A case event as a unit writes it, occurring now."""
    return {
        "event_id": str(uuid.uuid4()),
        "report_id": report_id,
        "unit": unit,
        "kind": kind,
        "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
        **changes,
    }


async def publish(
    channel: aio_pika.abc.AbstractChannel,
    topology: Topology,
    body: dict[str, Any] | bytes,
    key: str,
    user_id: str | None = None,
) -> None:
    """To the case-events exchange, confirmed, as a unit's system publishes."""
    exchange = await channel.get_exchange(topology.case_events_exchange.name)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    message_id = body["event_id"] if isinstance(body, dict) else None
    await exchange.publish(
        aio_pika.Message(
            raw,
            message_id=message_id,
            type=CASE_EVENT_TYPE,
            content_type="application/json",
            user_id=user_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=key,
    )


async def routed(stack: Stack) -> tuple[str, str]:
    """A report posted to the intake and routed to its unit: its id and the unit holding it."""
    posted = await stack.intake.post(
        "/v1/reports", json=example("bicycle-theft", persons=[]), headers=auth("alpha")
    )
    report_id = posted.json()["report_id"]
    return report_id, str((await held_case(stack.database_url, report_id))["unit"])


async def recorded(database_url: str, report_id: str, count: int) -> list[asyncpg.Record]:
    """The report's case events once there are `count` (AssertionError after 15 s)."""
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(300):
            rows: list[asyncpg.Record] = await conn.fetch(
                "SELECT * FROM case_events WHERE report_id = $1 ORDER BY occurred_at",
                uuid.UUID(report_id),
            )
            if len(rows) >= count:
                return rows
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"{len(rows)} of {count} events recorded in 15 s")


async def dead_letters(stack: Stack, count: int) -> list[aio_pika.abc.AbstractIncomingMessage]:
    dead = await take(await stack.queue(stack.topology.dead_letter_queue.name), count)
    assert len(dead) == count, [m.headers for m in dead]
    return dead


async def ready(stack: Stack, queue: str) -> int:
    declared = await stack.channel.declare_queue(queue, passive=True)
    return declared.declaration_result.message_count or 0


async def test_a_units_events_are_applied_and_recorded_as_amqp(stack: Stack, amqp_url: str) -> None:
    report_id, unit = await routed(stack)
    user = urlsplit(amqp_url).username or "guest"
    received = event(report_id, unit)
    closed = event(report_id, unit, "closed", outcome="dismissed")
    await publish(stack.channel, stack.topology, received, unit, user_id=user)
    await publish(stack.channel, stack.topology, closed, unit)
    rows = await recorded(stack.database_url, report_id, 2)
    assert [(str(r["event_id"]), r["kind"], r["via"]) for r in rows] == [
        (received["event_id"], "received", "amqp"),
        (closed["event_id"], "closed", "amqp"),
    ]
    assert [r["client"] for r in rows] == [f"amqp:{user}", "amqp:-"]
    conn = await asyncpg.connect(stack.database_url)
    case = await conn.fetchrow(
        "SELECT * FROM unit_cases WHERE report_id = $1", uuid.UUID(report_id)
    )
    await conn.close()
    assert case is not None
    assert case["received_at"] == dt.datetime.fromisoformat(received["occurred_at"])
    assert case["closed_at"] == dt.datetime.fromisoformat(closed["occurred_at"])
    assert case["outcome"] == "dismissed"
    assert await ready(stack, stack.topology.case_events_queue.name) == 0
    assert await ready(stack, stack.topology.dead_letter_queue.name) == 0


def counted(kind: str, verdict: str) -> float:
    """The router's count of case events over AMQP (it runs in this process)."""
    labels = {"via": "amqp", "kind": kind, "verdict": verdict}
    return REGISTRY.get_sample_value("fsi_case_events_total", labels) or 0.0


async def test_an_event_published_twice_is_recorded_once(stack: Stack) -> None:
    report_id, unit = await routed(stack)
    repeats = counted("received", "repeat")
    received = event(report_id, unit)
    await publish(stack.channel, stack.topology, received, unit)
    await publish(stack.channel, stack.topology, received, unit)
    # One queue, settled in order: the event after them is recorded once both are settled.
    after = event(report_id, unit, "interview_held")
    await publish(stack.channel, stack.topology, after, unit)
    rows = await recorded(stack.database_url, report_id, 2)
    await asyncio.sleep(0.3)  # a second copy of `received` would be recorded by now
    rows = await recorded(stack.database_url, report_id, 2)
    assert sorted(r["kind"] for r in rows) == ["interview_held", "received"]
    # Acknowledged as a repeat, not retried as a failure.
    assert counted("received", "repeat") - repeats == 1
    assert await ready(stack, stack.topology.case_events_queue.name) == 0
    assert await ready(stack, stack.topology.dead_letter_queue.name) == 0


async def test_an_event_breaking_the_schema_is_dead_lettered_with_its_reason(
    stack: Stack,
) -> None:
    report_id, unit = await routed(stack)
    wrong_kind = event(report_id, unit, "Kari Nordmann 24869023120")
    no_reason = event(report_id, unit, "returned")
    await publish(stack.channel, stack.topology, wrong_kind, unit)
    await publish(stack.channel, stack.topology, no_reason, unit)
    await publish(stack.channel, stack.topology, b"not json", unit)
    dead = await dead_letters(stack, 3)
    headers = [m.headers for m in dead]
    assert {h["x-fsi-code"] for h in headers} == {"invalid"}
    assert {h["x-fsi-original-queue"] for h in headers} == {stack.topology.case_events_queue.name}
    reasons = [str(h["x-fsi-reason"]) for h in headers]
    assert "$.kind" in reasons[0]
    assert reasons[1].startswith("$.reason is required for a returned case")
    assert reasons[2].startswith("not a fsi.case.event.v1 message: JSON is malformed")
    assert not any("Kari" in r or "24869023120" in r for r in reasons)
    assert dead[0].body == json.dumps(wrong_kind).encode()  # the message as it came
    conn = await asyncpg.connect(stack.database_url)
    stored = await conn.fetchval(
        "SELECT count(*) FROM case_events WHERE report_id = $1", uuid.UUID(report_id)
    )
    returned = await conn.fetchval(
        "SELECT returned_at FROM unit_cases WHERE report_id = $1", uuid.UUID(report_id)
    )
    await conn.close()
    assert (stored, returned) == (0, None)


async def test_an_event_under_another_units_key_is_dead_lettered(stack: Stack) -> None:
    report_id, unit = await routed(stack)
    await publish(stack.channel, stack.topology, event(report_id, unit), OTHER_UNIT)
    (dead,) = await dead_letters(stack, 1)
    assert dead.headers["x-fsi-code"] == "unit_mismatch"
    assert dead.headers["x-fsi-reason"] == (
        f"the routing key `{OTHER_UNIT}` is not the event's unit `{unit}`"
    )
    assert await ready(stack, stack.topology.case_events_queue.name) == 0
    # Nothing was recorded: the case is still not received.
    received = event(report_id, unit)
    await publish(stack.channel, stack.topology, received, unit)
    (row,) = await recorded(stack.database_url, report_id, 1)
    assert str(row["event_id"]) == received["event_id"]


async def test_an_event_for_a_case_the_unit_does_not_hold_is_dead_lettered(
    stack: Stack,
) -> None:
    report_id, unit = await routed(stack)
    assert unit != OTHER_UNIT
    theirs = event(report_id, OTHER_UNIT)
    nobodys = event(str(uuid.uuid4()), unit)
    await publish(stack.channel, stack.topology, theirs, OTHER_UNIT)
    await publish(stack.channel, stack.topology, nobodys, unit)
    dead = await dead_letters(stack, 2)
    assert [m.headers["x-fsi-code"] for m in dead] == ["not_held", "not_held"]
    assert dead[0].headers["x-fsi-reason"] == (
        f"unit {OTHER_UNIT} holds no case of report {report_id}"
    )
    assert [m.message_id for m in dead] == [theirs["event_id"], nobodys["event_id"]]
    conn = await asyncpg.connect(stack.database_url)
    stored = await conn.fetchval(
        "SELECT count(*) FROM case_events WHERE event_id = ANY($1::uuid[])",
        [uuid.UUID(theirs["event_id"]), uuid.UUID(nobodys["event_id"])],
    )
    await conn.close()
    assert stored == 0


EVENTS_PER_CASE = 40


async def test_a_router_killed_between_applying_and_acknowledging_loses_nothing(
    stack: Stack, tmp_path: Path, router_database_url: str, amqp_url: str
) -> None:
    cases = [await routed(stack) for _ in range(3)]
    await stack.stop_router()
    bodies = [
        (event(report_id, unit, "received" if n == 0 else "interview_held"), unit)
        for report_id, unit in cases
        for n in range(EVENTS_PER_CASE)
    ]
    for body, unit in bodies:
        await publish(stack.channel, stack.topology, body, unit)
    env = router_env(router_database_url, amqp_url, stack.topology.prefix)
    async with routers(env, amqp_url, tmp_path) as crash:
        crash.first.start()
        # The first router applied a batch, and the broker never saw it acknowledged.
        await crash.kill_first_after_a_confirm()
        for report_id, _ in cases:
            await recorded(stack.database_url, report_id, EVENTS_PER_CASE)
        await until_empty(stack.channel, stack.topology.case_events_queue.name)
        await asyncio.sleep(0.5)  # the last acknowledgements settle
        second = crash.second.output
    conn = await asyncpg.connect(stack.database_url)
    stored = await conn.fetch(
        "SELECT event_id FROM case_events WHERE report_id = ANY($1::uuid[])",
        [uuid.UUID(r) for r, _ in cases],
    )
    await conn.close()
    assert sorted(str(r["event_id"]) for r in stored) == sorted(b["event_id"] for b, _ in bodies)
    assert await ready(stack, stack.topology.case_events_queue.name) == 0
    assert await ready(stack, stack.topology.dead_letter_queue.name) == 0
    # The batch applied before the kill came again and was acknowledged as repeats.
    repeats = [int(n) for n in re.findall(r"repeats[\"=:\s]+(\d+)", second)]
    assert sum(repeats) > 0, second[-2000:]
