"""fsi-unit against the real RabbitMQ: a unit's cases most urgent first, each acknowledged
once stored, nothing personal on the terminal; an event reaches the case-events exchange as
the AsyncAPI document says; the HTTP door's answers and problems are passed on."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import json
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import aio_pika
import msgspec
import pytest

from clients.fsi_unit import cli
from schemas.caseevents import CASE_EVENT_TYPE, CaseEvent, field_problems
from schemas.decision import Deadline, Decision, Priority
from schemas.envelope import CASE_ROUTED_TYPE, CONTENT_TYPE, CaseRouted
from schemas.report import Report
from services.common.topology import Topology, declare
from services.routing.cases import case_headers

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[3]
EXAMPLE = ROOT / "schemas" / "examples" / "report.domestic-violence.json"
UNIT = "oslo.vold-og-seksual"
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


@pytest.fixture
async def channel(
    amqp_url: str, make_topology: Callable[..., Topology]
) -> AsyncIterator[tuple[aio_pika.abc.AbstractChannel, Topology]]:
    topology = make_topology(units=(UNIT,))
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        made = await connection.channel()
        await declare(made, topology)
        yield made, topology


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


async def fsi_unit(amqp_url: str, prefix: str, *args: str) -> tuple[int, str, str]:
    """Run the command as a unit's system would, in a process of its own."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "clients.fsi_unit.cli",
        *args,
        "--broker-url",
        amqp_url,
        "--prefix",
        prefix,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def in_process(
    capsys: pytest.CaptureFixture[str], amqp_url: str, prefix: str, *args: str
) -> tuple[int, str, str]:
    """The command's `main` in a thread of this process (its own event loop, as the script
    has), so coverage sees it; what it printed."""
    capsys.readouterr()
    argv = [*args, "--broker-url", amqp_url, "--prefix", prefix]
    code = await asyncio.wait_for(asyncio.to_thread(cli.main, argv), timeout=60)
    said = capsys.readouterr()
    return code, said.out, said.err


async def _waiting(channel: aio_pika.abc.AbstractChannel, queue: str) -> int:
    declared = await channel.declare_queue(queue, passive=True)
    return declared.declaration_result.message_count or 0


async def test_consume_stores_the_cases_most_urgent_first_and_empties_the_queue(
    channel: tuple[aio_pika.abc.AbstractChannel, Topology], amqp_url: str, tmp_path: Path
) -> None:
    made, topology = channel
    normal, critical, high = await _publish_cases(
        made, topology, (Priority.NORMAL, 4), (Priority.CRITICAL, 9), (Priority.HIGH, 7)
    )
    queue = topology.unit_queue(UNIT).name
    assert await _waiting(made, queue) == 3
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
    assert await _waiting(made, queue) == 0  # acknowledged, not put back


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
    assert await _waiting(made, topology.unit_queue(UNIT).name) == 1  # the low one waits
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
    assert await _waiting(made, topology.unit_queue(UNIT).name) == 0


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


class _Intake(http.server.BaseHTTPRequestHandler):
    """The intake's door as its OpenAPI document answers: a status and a JSON body."""

    answer: tuple[int, dict[str, Any]] = (201, {})
    seen: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        self.seen.append((self.path, self.headers["Authorization"], body))
        status, answer = self.answer
        data = json.dumps(answer).encode()
        self.send_response(status)
        kind = "application/json" if status < 400 else "application/problem+json"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def intake_door() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Intake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Intake.seen.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "code"), [(201, 0), (200, 0), (409, 1), (404, 1), (403, 77), (503, 69)]
)
async def test_an_event_over_http_prints_the_answer_or_the_problem(
    intake_door: str,
    tmp_path: Path,
    amqp_url: str,
    capsys: pytest.CaptureFixture[str],
    status: int,
    code: int,
) -> None:
    report_id = uuid.uuid4()
    body = {"verdict": "applied"} if status < 400 else {"title": "Conflict", "status": status}
    _Intake.answer = (status, body)
    key = tmp_path / "key"
    key.write_text("unit-key\n", "utf-8")

    got, out, err = await in_process(
        capsys,
        amqp_url,
        "unused.",
        "event",
        str(report_id),
        "closed",
        "--unit",
        UNIT,
        "--outcome",
        "waiver",
        "--via",
        "http",
        "--url",
        intake_door,
        "--key-file",
        str(key),
    )

    assert got == code, err
    [(path, authorization, sent)] = _Intake.seen
    assert (path, authorization) == (f"/v1/cases/{report_id}/events", "Bearer unit-key")
    assert set(sent) == {"event_id", "unit", "kind", "occurred_at", "outcome"}
    assert (sent["kind"], sent["outcome"]) == ("closed", "waiver")
    if status < 400:
        assert json.loads(out) == body
    else:
        assert f"HTTP {status}" in err
        assert json.dumps(body) in err


async def test_failures_are_said_with_their_exit_codes(
    channel: tuple[aio_pika.abc.AbstractChannel, Topology],
    amqp_url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _, topology = channel
    report = str(uuid.uuid4())
    nowhere = "amqp://unit:s3cret@127.0.0.1:9/"
    code, _, err = await in_process(capsys, nowhere, "x.", "consume", UNIT, "--until-empty")
    assert (code, "s3cret" in err) == (69, False), err
    assert "the broker at 127.0.0.1:9 failed" in err
    stranger = amqp_url.replace("guest:guest@", "nobody:wrong@")
    code, _, err = await in_process(
        capsys, stranger, "x.", "event", report, "received", "--unit", UNIT
    )
    assert (code, err) == (77, "fsi-unit: the broker at 127.0.0.1:5672 refused the user\n")
    code, _, err = await in_process(capsys, amqp_url, topology.prefix, "consume", "no.such-unit")
    assert code == 1
    assert f"no queue '{topology.prefix}unit.no.such-unit'" in err
    event = ("event", report, "received", "--unit", UNIT)
    code, _, err = await in_process(capsys, amqp_url, "x.", *event)
    assert (code, "no exchange 'x.case-events'" in err) == (1, True), err
    wrong = [
        (("event", report, "returned", "--unit", UNIT), "--reason is required for `returned`"),
        (("event", report, "closed", "--unit", UNIT), "--outcome is required"),
        ((*event, "--at", "2026-12-01T10:00"), "--at: give the offset"),
        ((*event, "--at", "yesterday"), "--at: not an ISO 8601 time"),
        ((*event, "--event-id", "7"), "--event-id: not a uuid"),
        ((*event, "--via", "http"), "--via http needs --key-file"),
        ((*event, "--via", "http", "--key-file", str(tmp_path / "no")), "cannot read --key-file"),
        (("consume", UNIT, "--count", "0"), "--count must be 1 or more"),
        (("consume", UNIT, "--json-lines", str(tmp_path)), "cannot open --json-lines"),
    ]
    for args, said in wrong:
        code, _, err = await in_process(capsys, amqp_url, topology.prefix, *args)
        assert (code, said in err) == (2, True), (args, err)
