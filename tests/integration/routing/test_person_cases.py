"""People's half of the router against the real PostgreSQL and RabbitMQ: a report the rules
triage goes on the work list once, and a person's decision stored with its outbox row (as
the intake's dispositions write them) reaches its unit's queue once, with who decided."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import aio_pika
import asyncpg
import msgspec
from prometheus_client import REGISTRY

from schemas.decision import DecidedBy, Decision, Priority
from schemas.envelope import CASE_DECIDED_TYPE, CASE_ROUTED_TYPE, CaseDecided, CaseRouted
from services.common.topology import CASE_DECIDED_KEY, REPORT_ACCEPTED_KEY
from services.routing.person_cases import UNKNOWN_DECISION
from tests.integration.routing.crash import until_empty
from tests.integration.stack import Stack, reason, take
from tests.integration.triage.flows import deliveries, in_municipality, post, waiting
from tests.support.broker_inputs import command, run_script

UNIT = "oslo.okonomi-og-miljo"
RANK = {"critical": 3, "high": 2, "normal": 1, "low": 0}  # Priority.rank, as design says


async def test_reports_the_rules_triage_wait_on_the_work_list_once(stack: Stack) -> None:
    assert stack.watch is not None
    rules = stack.rules_file.read_text("utf-8")
    # A rule of the rule owners' own that sends hate crime to a person, before every other.
    stack.rules_file.write_text(
        rules.replace(
            "rules:\n",
            "rules:\n  - {id: hate-to-triage, when: {flag: hate_motive}, then: {unit: triage}}\n",
            1,
        ),
        "utf-8",
    )
    assert await stack.watch.reload()
    by_rule = await post(stack, flags={"hate_motive": True})
    no_district = await post(stack, **in_municipality("9998"))
    unknown_offence = await post(stack, offences=[{"code": "strl-9999"}])
    conn = await asyncpg.connect(stack.database_url)
    try:
        for report_id, reason_code, detail, district in (
            (by_rule, "rule", "hate-to-triage", "oslo"),
            (no_district, "no_district", None, None),
            (unknown_offence, "quality_issues", None, "oslo"),
        ):
            row = await waiting(stack, report_id)
            decision = await conn.fetchrow(
                "SELECT priority, deadline_at FROM decisions WHERE report_id = $1",
                uuid.UUID(report_id),
            )
            received = await conn.fetchval(
                "SELECT received_at FROM reports WHERE id = $1", uuid.UUID(report_id)
            )
            assert (row["reason"], row["detail"], row["district"]) == (
                reason_code,
                detail,
                district,
            ), report_id
            assert row["state"] == "waiting"
            assert row["source"] == "alpha-src"
            assert (row["priority"], row["deadline_at"]) == tuple(decision)
            assert row["priority_rank"] == RANK[row["priority"]]
            assert row["received_at"] == received
            assert row["claimed_by"] is None
        # Hate crime is a priority whatever the offence (the default rules' `hate-crime`).
        assert (await waiting(stack, by_rule))["priority"] == "high"
        before = await waiting(stack, by_rule)
        # The accepted message again, as after a crash between publish and acknowledgement.
        payload = await conn.fetchval(
            "SELECT payload FROM outbox WHERE report_id = $1 AND decision_id IS NULL",
            uuid.UUID(by_rule),
        )
        reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
        await reports.publish(
            aio_pika.Message(payload, message_id=by_rule), routing_key=REPORT_ACCEPTED_KEY
        )
        triage = await stack.queue(stack.topology.triage_queue.name)
        copies = await take(triage, 4)
        assert sorted(m.message_id or "" for m in copies).count(by_rule) == 2
        rows = await conn.fetch("SELECT * FROM work_items WHERE report_id = $1", uuid.UUID(by_rule))
    finally:
        await conn.close()
    assert [dict(r) for r in rows] == [dict(before)]  # one row, as it was


async def decide_as_person(
    url: str,
    report_id: str,
    unit: str = UNIT,
    version: int = 1,
    corrected: dict[str, Any] | None = None,
) -> uuid.UUID:
    """A person's decision as the intake's dispositions store it, in one transaction as the
    intake's own login: the act, a corrected version when given, the decision (schemas'
    `Decision` with `decided_by`) and its outbox row (`CaseDecided`)."""
    act = uuid.uuid4()
    report = uuid.UUID(report_id)
    kind = "corrected" if corrected is not None else "routed"
    decision = Decision(
        report_id=report,
        unit=unit,
        priority=Priority.HIGH,
        amqp_priority=7,
        ruleset_version="v-test",
        decided_at=dt.datetime.now(dt.UTC),
        district="oslo",
        decided_by=DecidedBy(
            "anne", "assessor", kind, act, reason="a reason", report_version=version
        ),
    )
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            details = {"unit": unit, "priority": "high", "downgrade": False}
            await conn.execute(
                "INSERT INTO person_acts (id, report_id, kind, actor, actor_role, reason,"
                " details) VALUES ($1, $2, $3, 'anne', 'assessor', 'a reason', $4::jsonb)",
                act,
                report,
                kind,
                json.dumps(details),
            )
            if corrected is not None:
                await conn.execute(
                    "INSERT INTO report_versions (report_id, version, report, act_id)"
                    " VALUES ($1, $2, $3::jsonb, $4)",
                    report,
                    version,
                    json.dumps(corrected),
                    act,
                )
            await conn.execute(
                "INSERT INTO person_decisions (id, report_id, version, unit, district, priority,"
                " amqp_priority, deadline_at, decided_by, decided_role, ruleset_version,"
                " decided_at, decision) VALUES ($1, $2, $3, $4, 'oslo', 'high', 7, NULL,"
                " 'anne', 'assessor', 'v-test', $5, $6::jsonb)",
                act,
                report,
                version,
                unit,
                decision.decided_at,
                msgspec.json.encode(decision).decode(),
            )
            await conn.execute(
                "INSERT INTO outbox (report_id, decision_id, message_type, source_format,"
                " routing_key, payload) SELECT $1, $2, $3, source_format, $4, $5"
                " FROM reports WHERE id = $1",
                report,
                act,
                CASE_DECIDED_TYPE,
                CASE_DECIDED_KEY,
                msgspec.json.encode(CaseDecided(act, report)),
            )
    finally:
        await conn.close()
    return act


def counted(act: str) -> float:
    labels = {"unit": UNIT, "act": act}
    return REGISTRY.get_sample_value("fsi_routing_person_cases_total", labels) or 0.0


async def test_a_persons_decision_reaches_its_unit_once_with_who_decided(
    stack: Stack, intake_database_url: str
) -> None:
    report_id = await post(stack, **in_municipality("9998"))
    await waiting(stack, report_id)
    before = counted("routed")
    act = await decide_as_person(intake_database_url, report_id)
    assert await deliveries(stack, str(act)) == 1
    queue = await stack.queue(stack.topology.unit_queue(UNIT).name)
    (message,) = await take(queue, 1)
    assert message.message_id == str(act)
    assert (message.type, message.priority) == (CASE_ROUTED_TYPE, 7)
    assert message.headers["x-fsi-act"] == "routed"
    case = msgspec.json.decode(message.body, type=CaseRouted)
    assert case.report_id == uuid.UUID(report_id)
    assert case.decision.unit == UNIT
    assert case.decision.decided_by == DecidedBy(
        "anne", "assessor", "routed", act, reason="a reason", report_version=1
    )
    conn = await asyncpg.connect(stack.database_url)
    try:
        stored = await conn.fetchval(
            "SELECT report::text FROM reports WHERE id = $1", uuid.UUID(report_id)
        )
        assert msgspec.json.decode(message.body)["report"] == json.loads(stored)
        # The relay sent the decision under its own id (else it would be dead-lettered).
        assert await conn.fetchval(
            "SELECT published_at IS NOT NULL FROM outbox WHERE decision_id = $1", act
        )
        # The case.decided message again, as the relay sends it after a lost mark.
        payload = await conn.fetchval("SELECT payload FROM outbox WHERE decision_id = $1", act)
        reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
        await reports.publish(
            aio_pika.Message(payload, message_id=str(act)), routing_key=CASE_DECIDED_KEY
        )
        # Until the router took and acknowledged it.
        await until_empty(stack.channel, stack.topology.decisions_queue.name, tries=100)
        await asyncio.sleep(1.0)
        again = await queue.get(fail=False)
        if again is not None:  # a second copy is allowed, and is the same message
            await again.ack()
            assert again.message_id == str(act)
        count = await conn.fetchval(
            "SELECT count(*) FROM person_case_deliveries WHERE decision_id = $1", act
        )
    finally:
        await conn.close()
    assert count == 1
    assert counted("routed") == before + 1  # counted at its first confirmation only


async def test_a_corrected_version_is_the_report_its_case_carries(
    stack: Stack, intake_database_url: str
) -> None:
    report_id = await post(stack, **in_municipality("9998"))
    await waiting(stack, report_id)
    conn = await asyncpg.connect(stack.database_url)
    try:
        accepted = json.loads(
            await conn.fetchval(
                "SELECT report::text FROM reports WHERE id = $1", uuid.UUID(report_id)
            )
        )
    finally:
        await conn.close()
    fixed = {**accepted, "incident": {**accepted["incident"], "municipality": "0301"}}
    act = await decide_as_person(intake_database_url, report_id, version=2, corrected=fixed)
    assert await deliveries(stack, str(act)) == 1
    (message,) = await take(await stack.queue(stack.topology.unit_queue(UNIT).name), 1)
    case = msgspec.json.decode(message.body, type=CaseRouted)
    assert case.report.incident.municipality == "0301"
    assert case.decision.decided_by is not None
    assert (case.decision.decided_by.act, case.decision.decided_by.report_version) == (
        "corrected",
        2,
    )


async def test_a_message_naming_no_decision_is_dead_lettered_and_acknowledged(
    stack: Stack,
) -> None:
    stranger = uuid.uuid4()
    body = msgspec.json.encode(CaseDecided(stranger, uuid.uuid4()))
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    await reports.publish(
        aio_pika.Message(body, message_id=str(stranger)), routing_key=CASE_DECIDED_KEY
    )
    (dead,) = await take(await stack.queue(stack.topology.dead_letter_queue.name), 1)
    assert dead.message_id == str(stranger)
    assert reason(dead) == UNKNOWN_DECISION
    assert dead.headers["x-fsi-original-queue"] == stack.topology.decisions_queue.name
    declared = await stack.channel.declare_queue(stack.topology.decisions_queue.name, passive=True)
    assert declared.declaration_result.message_count == 0


async def test_a_case_whose_unit_queue_is_missing_waits_and_goes_once_it_is_back(
    stack: Stack, intake_database_url: str, amqp_url: str
) -> None:
    queue_name = stack.topology.unit_queue(UNIT).name
    run_script("delete-queue", amqp_url, stack.topology.prefix, queue_name)
    report_id = await post(stack, **in_municipality("9998"))
    await waiting(stack, report_id)
    act = await decide_as_person(intake_database_url, report_id)
    conn = await asyncpg.connect(stack.database_url)
    try:
        waits = "SELECT unit, returns FROM person_waiting_cases WHERE decision_id = $1"
        for _ in range(300):
            waits_row = await conn.fetchrow(waits, act)
            if waits_row is not None and waits_row["returns"] >= 2:
                break  # returned, and returned again on the first retry (2 s later)
            await asyncio.sleep(0.05)
        assert waits_row is not None
        assert (waits_row["unit"], waits_row["returns"]) == (UNIT, 2)
        assert await deliveries(stack, str(act), within=0.1) == 0  # not delivered
        # The operator's repair: fsi-declare. The next retry (4 s after the second return)
        # finds the queue.
        answer = await command(
            "fsi-declare", FSI_BROKER_URL=amqp_url, FSI_BROKER_PREFIX=stack.topology.prefix
        )
        assert answer.code == 0, answer.err
        assert await deliveries(stack, str(act), within=20) == 1
        ended = await conn.fetchval(
            "SELECT delivered_at IS NOT NULL FROM person_waiting_cases WHERE decision_id = $1",
            act,
        )
    finally:
        await conn.close()
    assert ended
    got = await take(await stack.queue(queue_name), 2)
    assert [m.message_id for m in got] == [str(act)]  # returned copies never arrived
