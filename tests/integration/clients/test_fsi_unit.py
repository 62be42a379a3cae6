"""fsi-unit against the real RabbitMQ: a unit's cases most urgent first, each acknowledged
once stored, nothing personal on the terminal; an event reaches the case-events exchange as
the AsyncAPI document says."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import aio_pika
import msgspec
import pytest

from schemas.caseevents import CASE_EVENT_TYPE, CaseEvent, field_problems
from schemas.decision import Deadline, Decision, Priority
from schemas.envelope import CASE_ROUTED_TYPE, CONTENT_TYPE, CaseRouted
from schemas.report import Report
from services.common.topology import Topology
from services.routing.cases import case_headers
from tests.integration.clients.conftest import ROOT, UNIT, fsi_unit, in_process, waiting

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "schemas" / "examples" / "report.domestic-violence.json"
# What the example report says of its persons, which the terminal must never show.
PERSONAL = ("Testesen", "30897534505", "12838512311", "Eksempelveien", "Nabo ringte")
NOW = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)


def _case(priority: Priority, amqp: int, due_hours: int) -> tuple[CaseRouted, Decision]:
    report_id = uuid.uuid4()
    decision = Decision(
        report_id=report_id,
        unit=UNIT,
        priority=priority,
        amqp_priority=amqp,
        ruleset_version="sha256:test",
        decided_at=NOW,
        district="oslo",
        deadline=Deadline(NOW + dt.timedelta(hours=due_hours), "basis", "rule"),
    )
    report = msgspec.json.decode(EXAMPLE.read_bytes(), type=Report)
    return CaseRouted(report_id=report_id, report=report, decision=decision), decision


async def _publish_cases(
    channel: aio_pika.abc.AbstractChannel, topology: Topology, *cases: tuple[Priority, int]
) -> list[str]:
    exchange = await channel.get_exchange(topology.cases_exchange.name)
    ids = []
    for n, (priority, amqp) in enumerate(cases):
        case, decision = _case(priority, amqp, due_hours=24 + n)
        await exchange.publish(
            aio_pika.Message(
                msgspec.json.encode(case),
                message_id=str(case.report_id),
                type=CASE_ROUTED_TYPE,
                content_type=CONTENT_TYPE,
                priority=amqp,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers=case_headers(decision),
            ),
            routing_key=UNIT,
        )
        ids.append(str(case.report_id))
    return ids


async def test_consume_stores_the_cases_most_urgent_first_and_empties_the_queue(
    channel: tuple[aio_pika.abc.AbstractChannel, Topology], amqp_url: str, tmp_path: Path
) -> None:
    made, topology = channel
    normal, critical, high = await _publish_cases(
        made, topology, (Priority.NORMAL, 4), (Priority.CRITICAL, 9), (Priority.HIGH, 7)
    )
    queue = topology.unit_queue(UNIT).name
    assert await waiting(made, queue) == 3
    stored = tmp_path / "cases.jsonl"

    code, out, err = await fsi_unit(
        amqp_url, topology.prefix, "consume", UNIT, "--until-empty", "--json-lines", str(stored)
    )

    assert code == 0, err
    assert out == ""
    bodies = [json.loads(line) for line in stored.read_text("utf-8").splitlines()]
    assert [b["report_id"] for b in bodies] == [critical, high, normal]
    assert [b["decision"]["priority"] for b in bodies] == ["critical", "high", "normal"]
    # Each body as it came: it decodes as the contract's CaseRouted.
    for body in bodies:
        msgspec.convert(body, CaseRouted)
    assert f"3 cases taken from {queue}" in err
    assert await waiting(made, queue) == 0  # acknowledged, not put back


async def test_consume_prints_a_line_per_case_without_personal_data(
    channel: tuple[aio_pika.abc.AbstractChannel, Topology],
    amqp_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made, topology = channel
    low, high = await _publish_cases(made, topology, (Priority.LOW, 1), (Priority.HIGH, 7))

    code, out, err = await in_process(
        capsys, amqp_url, topology.prefix, "consume", UNIT, "--count", "1"
    )

    assert code == 0, err
    [line] = out.splitlines()
    assert line.startswith(f"{high}  priority=high(7)  due=2026-12-")
    # The canonical code shown; one as written by a person is not.
    assert line.endswith("offences=strl-282,?")
    assert not any(text in out + err for text in PERSONAL)
    assert await waiting(made, topology.unit_queue(UNIT).name) == 1  # the low one waits
    assert low not in out


async def test_a_message_that_is_no_case_is_rejected_and_said(
    channel: tuple[aio_pika.abc.AbstractChannel, Topology],
    amqp_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made, topology = channel
    exchange = await made.get_exchange(topology.cases_exchange.name)
    await exchange.publish(aio_pika.Message(b"Ola Testesen", message_id="x"), routing_key=UNIT)

    code, out, err = await in_process(
        capsys, amqp_url, topology.prefix, "consume", UNIT, "--until-empty"
    )

    assert code == 1
    assert "is not JSON: rejected to the dead-letter queue" in err
    assert "Testesen" not in out + err
    assert await waiting(made, topology.unit_queue(UNIT).name) == 0


async def test_an_event_over_amqp_reaches_the_case_events_exchange_as_documented(
    channel: tuple[aio_pika.abc.AbstractChannel, Topology],
    amqp_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    made, topology = channel
    listener = await made.declare_queue(exclusive=True)
    await listener.bind(topology.case_events_exchange.name, routing_key=UNIT)
    report_id, event_id = uuid.uuid4(), uuid.uuid4()

    code, out, err = await in_process(
        capsys,
        amqp_url,
        topology.prefix,
        "event",
        str(report_id),
        "received",
        "--unit",
        UNIT,
        "--event-id",
        str(event_id),
        "--at",
        "2026-12-01T10:00:00+01:00",
    )

    assert code == 0, err
    assert json.loads(out)["confirmed"] is True
    message = await listener.get(timeout=10)
    await message.ack()
    assert message.routing_key == UNIT
    assert (message.message_id, message.type) == (str(event_id), CASE_EVENT_TYPE)
    assert message.content_type == "application/json"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.user_id == "guest"  # the URL's user, which RabbitMQ checked
    event = msgspec.json.decode(message.body, type=CaseEvent)
    assert field_problems(event) == []
    assert (event.report_id, event.event_id, event.kind.value) == (report_id, event_id, "received")
    assert event.occurred_at == dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
