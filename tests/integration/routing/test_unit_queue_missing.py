"""A case whose queue is missing is never reported as routed: RabbitMQ returns it (mandatory
publish), the router counts and logs it by unit and keeps it waiting in PostgreSQL, and the
status says so; `fsi-declare`, the operator's repair, lets it through within a minute."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aio_pika
import asyncpg
from prometheus_client import REGISTRY

from services.common.topology import REPORT_ACCEPTED_KEY
from tests.conftest import LogCapture
from tests.integration.stack import Stack, example, overview_where, reason, take, wait_routed
from tests.support.broker_inputs import command, run_script
from tests.support.clients import auth

DV_UNIT = "trondelag.vold-naere-relasjoner"  # where the domestic-violence example goes


def unroutable(unit: str) -> float:
    return REGISTRY.get_sample_value("fsi_routing_unroutable_total", {"unit": unit}) or 0.0


async def status(stack: Stack, report_id: str) -> str:
    shown = await stack.intake.get(f"/v1/reports/{report_id}", headers=auth("alpha"))
    return str(shown.json()["status"])


async def until_status(stack: Stack, report_id: str, wanted: str, within: float = 30) -> None:
    for _ in range(int(within * 10)):
        if await status(stack, report_id) == wanted:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"{report_id} not {wanted} in {within} s: {await status(stack, report_id)}"
    )


async def rows(stack: Stack, sql: str, report_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.database_url)
    try:
        return list(await conn.fetch(sql, uuid.UUID(report_id)))
    finally:
        await conn.close()


def unit_row(overview: dict[str, Any], unit: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        u for d in overview["districts"] for u in d["units"] if u["unit"] == unit
    )
    return found


async def declare_again(stack: Stack, amqp_url: str) -> None:
    """The operator's repair: `fsi-declare` under the stack's prefix."""
    answer = await command(
        "fsi-declare", FSI_BROKER_URL=amqp_url, FSI_BROKER_PREFIX=stack.topology.prefix
    )
    assert answer.code == 0, answer.err


async def test_a_unit_queue_deleted_while_the_router_runs(
    stack: Stack, amqp_url: str, log_capture: LogCapture
) -> None:
    queue_name = stack.topology.unit_queue(DV_UNIT).name
    # real-inputs-1/delete-queue.py, as an operator ran it
    run_script("delete-queue", amqp_url, stack.topology.prefix, queue_name)
    before = unroutable(DV_UNIT)
    posted = await stack.intake.post(
        "/v1/reports", json=example("domestic-violence"), headers=auth("alpha")
    )
    report_id = posted.json()["report_id"]
    await until_status(stack, report_id, "waiting_for_unit_queue")
    assert unroutable(DV_UNIT) >= before + 1
    assert not await rows(stack, "SELECT 1 FROM case_deliveries WHERE report_id = $1", report_id)
    (waiting,) = await rows(
        stack, "SELECT unit, returns FROM waiting_cases WHERE report_id = $1", report_id
    )
    assert waiting["unit"] == DV_UNIT
    logged = [line for _, line in log_capture.lines if "case returned" in line]
    assert any(report_id in line and DV_UNIT in line and queue_name in line for line in logged)
    overview = await overview_where(stack.intake, lambda o: o["waiting"] >= 1)
    assert report_id not in {case["report_id"] for case in overview["latest"]}
    assert unit_row(overview, DV_UNIT)["waiting"] == overview["waiting"] == 1
    assert all(not case["waiting"] for case in overview["latest"])
    page = await stack.intake.get("/ops", headers=auth("ops"))
    assert "1 case waits for a queue that is missing" in page.text
    shown = await stack.intake.get(f"/v1/reports/{report_id}", headers=auth("alpha"))
    decision = shown.json()["decision"]
    labels = {"district": decision["district"], "unit": DV_UNIT, "priority": decision["priority"]}
    counted = REGISTRY.get_sample_value("fsi_routing_decisions_total", labels) or 0.0

    await declare_again(stack, amqp_url)
    await until_status(stack, report_id, "routed", within=60)
    # Counted as routed once, when its queue took it. The router counts right after its
    # commit, so the status can be seen a moment before the count: wait for it, then make
    # sure it does not go on counting.
    for _ in range(50):
        if REGISTRY.get_sample_value("fsi_routing_decisions_total", labels) != counted:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # more than one look of the waiting-case loop
    assert REGISTRY.get_sample_value("fsi_routing_decisions_total", labels) == counted + 1
    (delivered,) = await rows(
        stack, "SELECT unit FROM case_deliveries WHERE report_id = $1", report_id
    )
    assert delivered["unit"] == DV_UNIT
    got = await take(await stack.queue(queue_name), 2)
    assert [m.message_id for m in got] == [report_id]  # returned copies never arrived
    overview = await overview_where(stack.intake, lambda o: o["waiting"] == 0)
    assert unit_row(overview, DV_UNIT)["routed_last_hour"] == 1


async def test_the_triage_queue_deleted_keeps_a_triage_case_waiting(
    stack: Stack, amqp_url: str
) -> None:
    run_script("delete-queue", amqp_url, stack.topology.prefix, stack.topology.triage_queue.name)
    body = example("bicycle-theft")
    body["incident"]["municipality"] = "9998"  # unknown: triage
    posted = await stack.intake.post("/v1/reports", json=body, headers=auth("alpha"))
    report_id = posted.json()["report_id"]
    await until_status(stack, report_id, "waiting_for_unit_queue")
    assert unroutable("triage") >= 1
    await declare_again(stack, amqp_url)
    # Confirmed by the triage queue at last: on the people's work list from then.
    await until_status(stack, report_id, "waiting", within=60)


async def _republish(stack: Stack, report_id: str) -> None:
    """The accepted message again, as the relay sends it after a crash before its mark."""
    conn = await asyncpg.connect(stack.database_url)
    try:
        payload = await conn.fetchval(
            "SELECT payload FROM outbox WHERE report_id = $1", uuid.UUID(report_id)
        )
    finally:
        await conn.close()
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    await reports.publish(
        aio_pika.Message(payload, message_id=report_id), routing_key=REPORT_ACCEPTED_KEY
    )


async def _confirmed(stack: Stack, report_id: str) -> list[Any]:
    return [
        r["confirmed_at"]
        for r in await rows(
            stack, "SELECT confirmed_at FROM case_deliveries WHERE report_id = $1", report_id
        )
    ]


async def test_a_report_delivered_again_stays_confirmed_once(stack: Stack) -> None:
    posted = await stack.intake.post(
        "/v1/reports", json=example("domestic-violence"), headers=auth("alpha")
    )
    report_id = posted.json()["report_id"]
    await wait_routed(stack.database_url, 1)
    first = await _confirmed(stack, report_id)
    await _republish(stack, report_id)
    queue = await stack.queue(stack.topology.unit_queue(DV_UNIT).name)
    got = await take(queue, 2)
    assert [m.message_id for m in got] == [report_id, report_id]  # at-least-once on the wire
    assert await _confirmed(stack, report_id) == first  # one delivery, the first
    assert await status(stack, report_id) == "routed"


async def test_a_redelivery_returned_after_its_queue_went_is_still_routed(
    stack: Stack, amqp_url: str
) -> None:
    posted = await stack.intake.post(
        "/v1/reports", json=example("domestic-violence"), headers=auth("alpha")
    )
    report_id = posted.json()["report_id"]
    await wait_routed(stack.database_url, 1)
    queue_name = stack.topology.unit_queue(DV_UNIT).name
    run_script("delete-queue", amqp_url, stack.topology.prefix, queue_name)
    before = unroutable(DV_UNIT)
    await _republish(stack, report_id)
    for _ in range(100):
        if unroutable(DV_UNIT) > before:
            break
        await asyncio.sleep(0.1)
    assert unroutable(DV_UNIT) == before + 1  # the return is counted
    # The queue confirmed it before: it stays routed, and nothing waits.
    assert await status(stack, report_id) == "routed"
    assert not await rows(stack, "SELECT 1 FROM waiting_cases WHERE report_id = $1", report_id)
    routing = await stack.queue(stack.topology.routing_queue.name)
    assert routing.declaration_result.message_count == 0


async def test_the_dead_letter_queue_deleted_keeps_poison_named_until_declared(
    stack: Stack, amqp_url: str, log_capture: LogCapture
) -> None:
    dead_letter = stack.topology.dead_letter_queue.name
    run_script("delete-queue", amqp_url, stack.topology.prefix, dead_letter)
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    await reports.publish(aio_pika.Message(b"\xff not json"), routing_key=REPORT_ACCEPTED_KEY)
    target = f"{stack.topology.dead_letter_exchange.name}/"
    for _ in range(100):
        named = [line for _, line in log_capture.lines if target in line]
        if named:
            break
        await asyncio.sleep(0.1)
    assert named, "the returned dead letter was not named"
    assert "routing failed; the reports go back to the queue" in named[0]
    await declare_again(stack, amqp_url)
    (dead,) = await take(await stack.queue(dead_letter), 1)
    assert reason(dead).startswith("not a fsi.report.accepted.v1 message")


def _still_waiting(log_capture: LogCapture, unit: str, after: int) -> list[dict[str, Any]]:
    """The router's "cases still wait" lines for a unit, logged after line `after`."""
    found = []
    for _, line in log_capture.lines[after:]:
        if "cases still wait" in line and line.startswith("{"):
            event = json.loads(line)
            if event.get("unit") == unit:
                found.append(event)
    return found


async def test_the_waiting_line_counts_every_case_that_waits(
    stack: Stack, amqp_url: str, log_capture: LogCapture
) -> None:
    """Two cases wait for one missing queue, returned at different times and so due at
    different times: each look publishes only the case due, and the line still says how many
    wait (the new user saw "cases=1" with two waiting)."""
    queue_name = stack.topology.unit_queue(DV_UNIT).name
    run_script("delete-queue", amqp_url, stack.topology.prefix, queue_name)
    ids = []
    for _ in range(2):
        posted = await stack.intake.post(
            "/v1/reports", json=example("domestic-violence"), headers=auth("alpha")
        )
        ids.append(posted.json()["report_id"])
        await until_status(stack, ids[-1], "waiting_for_unit_queue")
        # More than the router's look interval (1 s): the two never fall due in one look.
        await asyncio.sleep(1.5)
    mark = len(log_capture.lines)
    for _ in range(100):
        lines = _still_waiting(log_capture, DV_UNIT, mark)
        if len(lines) >= 3:
            break
        await asyncio.sleep(0.1)
    await declare_again(stack, amqp_url)  # the repair, so no case waits past this test
    for report_id in ids:
        await until_status(stack, report_id, "routed", within=60)
    assert len(lines) >= 3, lines
    assert [line["cases"] for line in lines] == [2] * len(lines)
    # Each look published again only the case due then.
    assert {line["returned_again"] for line in lines} == {1}
    assert all(line["queue"] == queue_name for line in lines)
