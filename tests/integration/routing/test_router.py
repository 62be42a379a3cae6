"""The router against the real RabbitMQ and PostgreSQL, fed by the real intake."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import msgspec
import pytest

from schemas.decision import Decision
from schemas.envelope import CASE_ROUTED_TYPE, CaseRouted
from services.common.rules.engine import Routable, decide
from services.common.topology import REPORT_ACCEPTED_KEY
from services.routing import handler
from services.routing.cli import main as cli_main
from tests.integration.stack import (
    ROOT,
    Stack,
    example,
    message_ids,
    reason,
    take,
    wait_routed,
)
from tests.support.clients import auth


async def test_post_is_routed_with_priority_deadline_and_audit(stack: Stack) -> None:
    posted = await stack.intake.post(
        "/v1/reports", json=example("domestic-violence"), headers=auth("alpha")
    )
    report_id = posted.json()["report_id"]
    await wait_routed(stack.database_url, 1)
    queue = await stack.queue(stack.topology.unit_queue("trondelag.vold-naere-relasjoner").name)
    (message,) = await take(queue, 1)
    assert message.message_id == report_id
    assert message.type == CASE_ROUTED_TYPE
    assert message.priority == 9
    assert message.headers["x-fsi-priority"] == "critical"
    case = msgspec.json.decode(message.body, type=CaseRouted)
    assert case.decision.unit == "trondelag.vold-naere-relasjoner"
    assert case.decision.deadline is not None
    assert case.decision.deadline.rule_id == "custody-adult"
    # One time form on the wire: the header as the body writes it (RFC 3339, UTC, `Z`).
    due_at = msgspec.json.decode(message.body)["decision"]["deadline"]["due_at"]
    assert (message.headers["x-fsi-deadline"], due_at[-1]) == (due_at, "Z")
    assert "domestic-violence" in case.decision.matched_rules
    shown = (await stack.intake.get(f"/v1/reports/{report_id}", headers=auth("alpha"))).json()
    assert shown["status"] == "routed"
    assert shown["decision"]["unit"] == "trondelag.vold-naere-relasjoner"


async def test_mixed_priorities_are_consumed_most_urgent_first(stack: Stack) -> None:
    theft = {"offences": [{"code": "strl-321"}], "persons": []}
    bodies = [
        example("bicycle-theft", **theft),
        example("bicycle-theft", offences=[{"code": "strl-323"}], persons=[]),
        example("bicycle-theft", **theft, flags={"ongoing_danger": True}),
        example("bicycle-theft", **theft, flags={"weapon": True}),
    ]
    for body in bodies:
        assert (
            await stack.intake.post("/v1/reports", json=body, headers=auth("alpha"))
        ).status_code == 202
    await wait_routed(stack.database_url, 4)
    queue = await stack.queue(stack.topology.unit_queue("oslo.felles-etterforskning").name)
    got = await take(queue, 4)
    assert [m.headers["x-fsi-priority"] for m in got] == ["critical", "high", "normal", "low"]


async def test_redelivery_republishes_the_stored_decision(stack: Stack) -> None:
    posted = await stack.intake.post(
        "/v1/reports", json=example("bicycle-theft", persons=[]), headers=auth("alpha")
    )
    report_id = posted.json()["report_id"]
    await wait_routed(stack.database_url, 1)
    queue = await stack.queue(stack.topology.unit_queue("oslo.felles-etterforskning").name)
    (first,) = await take(queue, 1)
    # The same message again, as after a crash between publish and ack.
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    conn = await asyncpg.connect(stack.database_url)
    payload = await conn.fetchval(
        "SELECT payload FROM outbox WHERE report_id = $1", uuid.UUID(report_id)
    )
    await reports.publish(
        aio_pika.Message(payload, message_id=report_id), routing_key=REPORT_ACCEPTED_KEY
    )
    (second,) = await take(queue, 1)
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM decisions WHERE report_id = $1", uuid.UUID(report_id)
        )
        == 1
    )
    await conn.close()
    assert second.message_id == first.message_id == report_id
    one = msgspec.json.decode(first.body, type=CaseRouted).decision
    two = msgspec.json.decode(second.body, type=CaseRouted).decision
    assert one == two


async def test_poison_goes_to_the_dead_letter_queue_with_its_reason(stack: Stack) -> None:
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    await reports.publish(
        aio_pika.Message(b'{"report_id": "Kari 24869023120"}', message_id="x"),
        routing_key=REPORT_ACCEPTED_KEY,
    )
    await reports.publish(aio_pika.Message(b"\xff not json"), routing_key=REPORT_ACCEPTED_KEY)
    dead = await take(await stack.queue(stack.topology.dead_letter_queue.name), 2)
    reasons = [reason(m) for m in dead]
    assert all(r.startswith("not a fsi.report.accepted.v1 message") for r in reasons)
    assert not any("24869023120" in r or "Kari" in r for r in reasons)
    routing = await stack.queue(stack.topology.routing_queue.name)
    assert routing.declaration_result.message_count == 0


async def test_unknown_municipality_goes_to_triage(stack: Stack) -> None:
    body = example("bicycle-theft")
    body["incident"]["municipality"] = "9998"
    posted = await stack.intake.post("/v1/reports", json=body, headers=auth("alpha"))
    await wait_routed(stack.database_url, 1)
    (message,) = await take(await stack.queue(stack.topology.triage_queue.name), 1)
    assert message.message_id == posted.json()["report_id"]
    decision = msgspec.json.decode(message.body, type=CaseRouted).decision
    assert "quality issue municipality.unknown" in decision.triage_reasons
    shown = (await stack.intake.get(posted.headers["location"], headers=auth("alpha"))).json()
    # Its queue confirmed it: it waits on the people's work list, for want of a district.
    assert shown["status"] == "waiting"
    conn = await asyncpg.connect(stack.database_url)
    listed = await conn.fetchrow(
        "SELECT reason, district FROM work_items WHERE report_id = $1",
        uuid.UUID(posted.json()["report_id"]),
    )
    await conn.close()
    assert listed is not None
    assert (listed["reason"], listed["district"]) == ("no_district", None)


async def test_invalid_rules_are_refused_on_reload_while_routing_goes_on(stack: Stack) -> None:
    assert stack.watch is not None
    before = stack.watch.router.ruleset.version
    stack.rules_file.write_text("version: 1\nrules: [{id: broken}]\n", "utf-8")
    assert await stack.watch.reload() is False
    assert stack.watch.reloads_failed == 1
    assert stack.watch.router.ruleset.version == before
    posted = await stack.intake.post(
        "/v1/reports", json=example("bicycle-theft", persons=[]), headers=auth("alpha")
    )
    await wait_routed(stack.database_url, 1)
    (message,) = await take(
        await stack.queue(stack.topology.unit_queue("oslo.felles-etterforskning").name), 1
    )
    assert message.message_id == posted.json()["report_id"]
    good = (ROOT / "deploy/routing/rules.yaml").read_text("utf-8") + "\n# reviewed\n"
    stack.rules_file.write_text(good, "utf-8")
    assert await stack.watch.reload() is True
    assert stack.watch.router.ruleset.version != before


async def test_a_report_unknown_to_the_database_is_dead_lettered(stack: Stack) -> None:
    posted = await stack.intake.post(
        "/v1/reports", json=example("bicycle-theft", persons=[]), headers=auth("alpha")
    )
    await wait_routed(stack.database_url, 1)
    conn = await asyncpg.connect(stack.database_url)
    payload = await conn.fetchval(
        "SELECT payload FROM outbox WHERE report_id = $1", uuid.UUID(posted.json()["report_id"])
    )
    await conn.close()
    stranger = str(uuid.uuid4())
    foreign = payload.replace(posted.json()["report_id"].encode(), stranger.encode())
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    await reports.publish(
        aio_pika.Message(foreign, message_id=stranger), routing_key=REPORT_ACCEPTED_KEY
    )
    (dead,) = await take(await stack.queue(stack.topology.dead_letter_queue.name), 1)
    assert dead.message_id == stranger
    assert dead.headers["x-fsi-reason"] == "no such report in the intake's database"


async def test_a_mixed_burst_settles_every_delivery_once(stack: Stack) -> None:
    """Good reports, a redelivered one, poison and a stranger, published at once so they
    share batches: each case once, the rest dead-lettered, nothing left unacknowledged."""
    ids = []
    for _ in range(12):
        posted = await stack.intake.post(
            "/v1/reports",
            json=example("bicycle-theft", persons=[]),
            headers=auth("alpha"),
        )
        ids.append(posted.json()["report_id"])
    await wait_routed(stack.database_url, 12)
    cases = await stack.queue(stack.topology.unit_queue("oslo.felles-etterforskning").name)
    first = await take(cases, 12)
    conn = await asyncpg.connect(stack.database_url)
    payload = await conn.fetchval(
        "SELECT payload FROM outbox WHERE report_id = $1", uuid.UUID(ids[0])
    )
    await conn.close()
    stranger = str(uuid.uuid4())
    burst = [
        aio_pika.Message(payload, message_id=ids[0]),
        aio_pika.Message(b"[]", message_id="poison"),
        aio_pika.Message(payload.replace(ids[0].encode(), stranger.encode()), message_id=stranger),
        aio_pika.Message(payload, message_id=ids[0]),
    ]
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    await asyncio.gather(*(reports.publish(m, routing_key=REPORT_ACCEPTED_KEY) for m in burst))
    again = await take(cases, 2)
    dead = await take(await stack.queue(stack.topology.dead_letter_queue.name), 2)
    await stack.stop_router()
    assert sorted(message_ids(first)) == sorted(ids)
    assert [m.message_id for m in again] == [ids[0], ids[0]]
    assert {m.message_id for m in dead} == {"poison", stranger}
    for queue in (stack.topology.routing_queue, stack.topology.dead_letter_queue):
        declared = await stack.channel.declare_queue(queue.name, passive=True)
        assert declared.declaration_result.message_count == 0, queue.name
    assert (await cases.get(fail=False)) is None


async def test_a_report_the_rules_fail_on_is_dead_lettered_alone(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(report: Routable, *args: Any) -> Decision:
        if report.flags.weapon:  # the one report posted so below
            raise ZeroDivisionError("a fault in the rules")
        return decide(report, *args)

    monkeypatch.setattr(handler, "decide", failing)
    bad = example("bicycle-theft", persons=[], flags={"weapon": True})
    bad["external_id"] = f"explode-{uuid.uuid4()}"
    posted = [
        await stack.intake.post("/v1/reports", json=body, headers=auth("alpha"))
        for body in (example("bicycle-theft", persons=[]), bad, example("bicycle-theft"))
    ]
    ids = [p.json()["report_id"] for p in posted]
    (dead,) = await take(await stack.queue(stack.topology.dead_letter_queue.name), 1)
    assert dead.message_id == ids[1]
    assert dead.headers["x-fsi-reason"] == (
        "the router could not decide or store a decision: ZeroDivisionError"
    )
    await wait_routed(stack.database_url, 2)
    cases = await take(
        await stack.queue(stack.topology.unit_queue("oslo.felles-etterforskning").name), 2
    )
    assert sorted(message_ids(cases)) == sorted([ids[0], ids[2]])


async def test_replay_shows_what_a_candidate_rule_set_would_change(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fraud = example("bicycle-theft", persons=[], offences=[{"code": "strl-371"}])
    theft = example("bicycle-theft", persons=[])
    ids = []
    for body in (fraud, theft):
        ids.append(
            (await stack.intake.post("/v1/reports", json=body, headers=auth("alpha"))).json()[
                "report_id"
            ]
        )
    await wait_routed(stack.database_url, 2)
    candidate = tmp_path / "candidate.yaml"
    text = (ROOT / "deploy/routing/rules.yaml").read_text("utf-8")
    candidate.write_text(
        text.replace(
            "    when: {offence: {code: [strl-371, strl-378, strl-325, strl-361]}}\n"
            "    then: {section: okonomi-og-miljo}",
            "    when: {offence: {code: [strl-371, strl-378, strl-325, strl-361]}}\n"
            "    then: {section: digitalt-politiarbeid, priority: high}",
        ),
        "utf-8",
    )
    assert candidate.read_text("utf-8") != text
    monkeypatch.setenv("FSI_DB_URL", stack.database_url)
    out = io.StringIO()
    # The command runs its own event loop, as from a shell: in a thread here.
    code = await asyncio.to_thread(
        cli_main, ["replay", str(candidate), "--since", "2000-01-01"], out
    )
    report = out.getvalue()
    assert code == 0, report
    assert "replayed 2 reports" in report
    assert "1 would change" in report
    assert "unit oslo.okonomi-og-miljo -> oslo.digitalt-politiarbeid: 1" in report
    assert "priority normal -> high: 1" in report
    assert ids[0] in report
    assert ids[1] not in report
    same = io.StringIO()
    default = str(ROOT / "deploy/routing/rules.yaml")
    assert (
        await asyncio.to_thread(cli_main, ["replay", default, "--since", "2000-01-01"], same) == 0
    )
    assert "0 would change" in same.getvalue()
