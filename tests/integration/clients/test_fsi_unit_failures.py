"""fsi-unit's failures and the HTTP door: the intake's answer printed, its problem passed on
with an exit code a unit's script can act on; a broker that does not answer, a user it
refuses, a queue or exchange it does not have, options the contract does not allow."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import aio_pika
import pytest

from services.common.topology import Topology
from tests.integration.clients.conftest import UNIT, in_process

pytestmark = pytest.mark.integration


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
