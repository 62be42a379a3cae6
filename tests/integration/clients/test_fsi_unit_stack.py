"""fsi-unit beside the whole stack: a report the rules route is taken from its unit's queue,
`received` sent back over AMQP is applied by the router, and an event of a report the unit
does not hold is dead-lettered with the headers the AsyncAPI document names."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from schemas.asyncapi.document import OUT
from tests.integration.clients.conftest import in_process, waiting
from tests.integration.stack import Stack, example, first_row, held_case, take
from tests.support.clients import auth

pytestmark = pytest.mark.integration


async def test_a_unit_takes_its_case_and_answers_through_the_router(
    stack: Stack, amqp_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    prefix = stack.topology.prefix
    posted = await stack.intake.post(
        "/v1/reports", json=example("bicycle-theft", persons=[]), headers=auth("alpha")
    )
    assert posted.status_code == 202, posted.text
    report_id = posted.json()["report_id"]
    unit = (await held_case(stack.database_url, report_id))["unit"]

    stored = tmp_path / "cases.jsonl"
    code, _, err = await in_process(
        capsys, amqp_url, prefix, "consume", unit, "--until-empty", "--json-lines", str(stored)
    )
    assert code == 0, err
    [case] = [json.loads(line) for line in stored.read_text("utf-8").splitlines()]
    assert (case["report_id"], case["decision"]["unit"]) == (report_id, unit)
    assert await waiting(stack.channel, stack.topology.unit_queue(unit).name) == 0

    code, out, err = await in_process(
        capsys, amqp_url, prefix, "event", report_id, "received", "--unit", unit
    )
    assert code == 0, err
    event_id = uuid.UUID(json.loads(out)["event_id"])
    recorded = "SELECT * FROM case_events WHERE event_id = $1"
    row = await first_row(stack.database_url, recorded, event_id)
    assert (row["kind"], row["via"], row["client"]) == ("received", "amqp", "amqp:guest")
    received = "SELECT received_at FROM unit_cases WHERE report_id = $1 AND received_at IS NOT NULL"
    await first_row(stack.database_url, received, uuid.UUID(report_id))

    # Not this unit's report: the broker confirms it, the router dead-letters it.
    code, out, err = await in_process(
        capsys, amqp_url, prefix, "event", str(uuid.uuid4()), "received", "--unit", unit
    )
    assert code == 0, err
    [dead] = await take(await stack.queue(stack.topology.dead_letter_queue.name), 1)
    assert dead.message_id == json.loads(out)["event_id"]
    documented = json.loads(OUT.read_text("utf-8"))["components"]["messages"]["refused"]
    headers = documented["headers"]
    assert set(headers["required"]) <= set(dead.headers) <= set(headers["properties"])
    assert dead.headers["x-fsi-code"] == "not_held"
    assert dead.headers["x-fsi-original-queue"] == stack.topology.case_events_queue.name
