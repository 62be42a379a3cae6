"""`POST /v1/cases/{report_id}/events` on the whole stack (the intake and a router in process,
the real PostgreSQL and RabbitMQ): a custody case routed to its Oslo unit, received and
brought before the court in time, shown met on time in its history and view; a repeat applied
once; a unit holding no case refused without a change; another district's unit forbidden; a
return back on the work list, routed by an assessor to another unit, arriving there once; bad
bodies named by their path."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from services.intake.access import hash_key
from tests.integration.stack import Stack, example, held_case
from tests.integration.triage.flows import (
    as_person,
    cases_in,
    claim,
    deliveries,
    listed,
    problem_type,
    read,
    value,
)
from tests.support import people
from tests.support.clients import CLIENTS_YAML, auth

pytestmark = pytest.mark.integration
MINUTE = dt.timedelta(minutes=1)

OSLO = "0301"  # Oslo municipality, in Oslo police district
KEY = "unit-oslo-key-" + "q" * 32
OSLO_UNITS = [
    "oslo.felles-etterforskning",
    "oslo.vold-og-seksual",
    "oslo.vold-naere-relasjoner",
    "oslo.okonomi-og-miljo",
    "oslo.organisert-kriminalitet",
    "oslo.barn-og-unge",
    "oslo.digitalt-politiarbeid",
    "oslo.operative-tjenester",
]
UNIT_AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def clients_file(tmp_path: Path) -> Path:
    """The suite's clients and a unit client for Oslo's units."""
    path = tmp_path / "clients.yaml"
    units = ", ".join(OSLO_UNITS)
    path.write_text(
        CLIENTS_YAML
        + f"""  - id: unit-oslo
    key_sha256: {hash_key(KEY)}
    roles: [unit]
    units: [{units}]
""",
        "utf-8",
    )
    return path


def custody_report() -> tuple[dict[str, Any], list[str]]:
    """The domestic violence example in Oslo, its adult suspect arrested two hours ago (a
    custody deadline: brought before the court by the end of the third day); the body and
    its persons' identity numbers and names."""
    body = example("domestic-violence")
    now = dt.datetime.now(dt.UTC)
    body["reported_at"] = (now - dt.timedelta(hours=1)).isoformat()
    body["incident"] = {
        **body["incident"],
        "municipality": OSLO,
        "occurred_from": (now - dt.timedelta(hours=3)).isoformat(),
    }
    for person in body["persons"]:
        if "arrested_at" in person:
            person["arrested_at"] = (now - dt.timedelta(hours=2)).isoformat()
    personal = [p[k] for p in body["persons"] for k in ("national_id", "name") if k in p]
    return body, personal


async def routed_custody(stack: Stack) -> tuple[str, str, list[str]]:
    """A custody report posted by `alpha` and routed to its Oslo unit: (report id, unit,
    the report's personal data)."""
    body, personal = custody_report()
    answer = await stack.intake.post("/v1/reports", json=body, headers=auth("alpha"))
    assert answer.status_code == 202, answer.text
    report_id = str(answer.json()["report_id"])
    case = await held_case(stack.database_url, report_id)
    assert case["unit"] in OSLO_UNITS, case["unit"]
    assert case["due_at"] is not None
    assert set(case["met_by"]) == {"brought_before_court", "released"}
    assert case["deadline_moment"] == "arrest"
    arrests = [p["arrested_at"] for p in body["persons"] if "arrested_at" in p]
    assert case["deadline_from"] == min(map(dt.datetime.fromisoformat, arrests))
    return report_id, str(case["unit"]), personal


def event(unit: str, kind: str = "received", minutes_ago: float = 0, **more: Any) -> dict[str, Any]:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    return {
        "event_id": str(uuid.uuid4()),
        "unit": unit,
        "kind": kind,
        "occurred_at": at.isoformat(),
        **more,
    }


async def send(stack: Stack, report_id: str, body: Any) -> Any:
    return await stack.intake.post(f"/v1/cases/{report_id}/events", json=body, headers=UNIT_AUTH)


async def case_events(stack: Stack, report_id: str) -> int:
    count = await value(
        stack, "SELECT count(*) FROM case_events WHERE report_id = $1", uuid.UUID(report_id)
    )
    return int(count)


async def test_received_then_before_the_court_in_time_is_met_on_time_in_history_and_view(
    stack: Stack,
) -> None:
    report_id, unit, personal = await routed_custody(stack)
    received = await send(stack, report_id, event(unit))
    assert received.status_code == 201, received.text
    assert received.json()["deadline"]["state"] == "open"
    court = event(unit, "brought_before_court")
    answer = await send(stack, report_id, court)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["verdict"], body["report_id"], body["case_id"]) == (
        "applied",
        report_id,
        report_id,
    )
    assert body["deadline"]["state"] == "met_on_time"
    assert dt.datetime.fromisoformat(body["deadline"]["met_at"]) == dt.datetime.fromisoformat(
        court["occurred_at"]
    )

    for reader in ("nina", None):  # a person of the intake (national), the client that sent it
        seen = await read(stack, report_id, reader)
        events = {e["event"]: e for e in seen["history"]}
        assert list(events)[-2:] == ["case_received", "case_brought_before_court"]
        met = events["case_brought_before_court"]
        assert met["by"] == {"kind": "unit", "id": unit, "role": None}
        assert (met["details"]["deadline"], met["details"]["via"]) == ("met_on_time", "http")
        assert "deadline" not in events["case_received"]["details"]
        assert events["queued"]["details"]["met_by"] == ["brought_before_court", "released"]
        assert ("client" in met["details"]) == (reader is not None)
        (case,) = seen["cases"]
        assert (case["unit"], case["state"]) == (unit, "received")
        assert case["deadline"]["state"] == "met_on_time"
        assert case["deadline"]["moment"] == "arrest"
    rows = await value(
        stack,
        "SELECT array_agg(client || '/' || via ORDER BY occurred_at) FROM case_events"
        " WHERE report_id = $1",
        uuid.UUID(report_id),
    )
    assert rows == ["unit-oslo/http", "unit-oslo/http"]
    # Refusals quote what the unit sent, never the report's personal data.
    back = await send(stack, report_id, event(unit, "returned", reason="wrong_unit"))
    assert back.status_code == 201  # returned: the case is the unit's no longer
    again = await send(stack, report_id, event(unit, "closed", outcome="dismissed"))
    assert problem_type(again) == "not-held"
    assert not any(item in again.text for item in personal)


async def test_a_repeat_is_applied_once_and_others_change_nothing(stack: Stack) -> None:
    report_id, unit, _ = await routed_custody(stack)
    sent = event(unit)
    first, second = await send(stack, report_id, sent), await send(stack, report_id, sent)
    assert (first.status_code, second.status_code) == (201, 200), second.text
    assert second.json() == {**first.json(), "verdict": "repeat"}
    assert await case_events(stack, report_id) == 1
    before = dict(await held_case(stack.database_url, report_id))

    # Another of the client's units, which holds no case of it: as if the report did not exist.
    other = next(u for u in OSLO_UNITS if u != unit)
    answers = [await send(stack, rid, event(other)) for rid in (report_id, str(uuid.uuid4()))]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].json()["title"] == answers[1].json()["title"]
    # A unit that is not the client's.
    foreign = await send(stack, report_id, event("vest.felles-etterforskning"))
    assert (foreign.status_code, problem_type(foreign)) == (403, "forbidden-unit")
    assert foreign.json()["unit"] == "vest.felles-etterforskning"
    # A client that is no unit's.
    submitter = await stack.intake.post(
        f"/v1/cases/{report_id}/events", json=event(unit), headers=auth("alpha")
    )
    assert (submitter.status_code, problem_type(submitter)) == (403, "forbidden-role")
    assert await case_events(stack, report_id) == 1
    assert dict(await held_case(stack.database_url, report_id)) == before


async def test_a_returned_case_waits_again_and_reaches_its_new_unit_once(stack: Stack) -> None:
    report_id, unit, _ = await routed_custody(stack)
    ((_, first_case),) = await cases_in(stack, unit)
    assert str(first_case.report_id) == report_id
    returned = await send(stack, report_id, event(unit, "returned", reason="wrong_unit"))
    assert returned.status_code == 201, returned.text
    assert returned.json()["deadline"]["state"] == "ended"

    # On an Oslo assessor's work list again, with the reason and the unit's code.
    assert report_id in await listed(stack, "anne", reason="returned")
    items = await stack.intake.get(
        "/v1/triage", params={"limit": 50}, headers=await people.bearer_for("anne")
    )
    (item,) = [i for i in items.json()["items"] if i["report_id"] == report_id]
    assert (item["reason"], item["detail"], item["district"]) == ("returned", "wrong_unit", "oslo")

    token = await claim(stack, "anne", report_id)
    new_unit = next(u for u in OSLO_UNITS if u not in (unit, "oslo.operative-tjenester"))
    route = {"claim": token, "unit": new_unit, "reason": "Enheten returnerte saken."}
    routed = await as_person(stack, "anne", "POST", f"/v1/triage/{report_id}/route", route)
    assert routed.status_code == 200, routed.text
    act_id = routed.json()["act_id"]
    assert await deliveries(stack, act_id) == 1
    arrived = await cases_in(stack, new_unit)
    assert [str(case.report_id) for _, case in arrived] == [report_id]
    rows = await value(
        stack,
        "SELECT array_agg(unit || '/' || (returned_at IS NOT NULL) ORDER BY routed_at)"
        " FROM unit_cases WHERE report_id = $1",
        uuid.UUID(report_id),
    )
    assert rows == [f"{unit}/true", f"{new_unit}/false"]
    # The new unit takes it; its case is the act's.
    taken = await send(stack, report_id, event(new_unit, minutes_ago=0))
    assert taken.status_code == 201, taken.text
    assert taken.json()["case_id"] == act_id
    seen = await read(stack, report_id, "anne")
    assert [(c["unit"], c["state"]) for c in seen["cases"]] == [
        (unit, "returned"),
        (new_unit, "received"),
    ]
    assert seen["cases"][0]["return_reason"] == "wrong_unit"


async def test_bodies_that_are_wrong_are_422_naming_the_path(stack: Stack) -> None:
    report_id, unit, _ = await routed_custody(stack)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    wrong: list[tuple[dict[str, Any], str]] = [
        ({"event_id": "e-1"}, "$.event_id"),
        ({"unit": "Oslo"}, "$.unit"),
        ({"kind": "arrested"}, "$.kind"),
        ({"occurred_at": "soon"}, "$.occurred_at"),
        ({"reason": "lost", "kind": "returned"}, "$.reason"),
        ({"outcome": 7, "kind": "closed"}, "$.outcome"),
        ({"note": "x"}, "$.note"),
        ({"reason": "wrong_unit"}, "$.reason"),
        ({"kind": "closed"}, "$.outcome"),
        ({"occurred_at": "2026-11-30T10:00:00"}, "$.occurred_at"),
        ({"occurred_at": later}, "$.occurred_at"),
    ]
    for changes, path in wrong:
        answer = await send(stack, report_id, {**event(unit), **changes})
        assert answer.status_code == 422, (changes, answer.text)
        assert problem_type(answer) == "invalid-case-event"
        errors = answer.json()["errors"]
        assert path in {e["path"] for e in errors}, (changes, errors)
        if changes.get(path.removeprefix("$.")) is not None and path != "$.note":
            (error,) = [e for e in errors if e["path"] == path]
            assert error["value"] == json.dumps(changes[path.removeprefix("$.")]).replace(
                '"', "'"
            ), error
    bad_id = await send(stack, "report-1", event(unit))
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0] == {
        "path": "report_id",
        "in": "path",
        "message": "is not a UUID (8-4-4-4-12 hex digits)",
        "value": "'report-1'",
    }
    assert await case_events(stack, report_id) == 0


async def test_a_deadline_an_assessor_moves_ends_as_the_rules_one_would(stack: Stack) -> None:
    # Custody (straffeprosessloven § 183) routed again after a return, due two hours before
    # the rules' time: the new held case carries the person's time, the rules' events that
    # meet it and its moment, and the court hearing meets it.
    report_id, unit, _ = await routed_custody(stack)
    rules_case = await held_case(stack.database_url, report_id)
    rules_due = rules_case["due_at"]
    returned = await send(stack, report_id, event(unit, "returned", reason="wrong_unit"))
    assert returned.status_code == 201, returned.text
    token = await claim(stack, "anne", report_id)
    new_unit = next(u for u in OSLO_UNITS if u not in (unit, "oslo.operative-tjenester"))
    earlier = rules_due - dt.timedelta(hours=2)
    route = {
        "claim": token,
        "unit": new_unit,
        "deadline_at": earlier.isoformat(),
        "reason": "Retten kan ta saken i formiddag.",
    }
    routed = await as_person(stack, "anne", "POST", f"/v1/triage/{report_id}/route", route)
    assert routed.status_code == 200, routed.text
    act_id = routed.json()["act_id"]
    assert await deliveries(stack, act_id) == 1
    case = await value(
        stack,
        "SELECT row(due_at, met_by, deadline_moment, deadline_from, deadline_rule)"
        " FROM unit_cases WHERE case_id = $1",
        uuid.UUID(act_id),
    )
    assert tuple(case) == (
        earlier,
        ["brought_before_court", "released"],
        "arrest",
        rules_case["deadline_from"],
        "person",
    )
    await send(stack, report_id, event(new_unit, minutes_ago=1))
    heard = await send(stack, report_id, event(new_unit, "brought_before_court"))
    assert heard.status_code == 201, heard.text
    assert heard.json()["deadline"]["state"] == "met_on_time"
    assert dt.datetime.fromisoformat(heard.json()["deadline"]["due_at"]) == earlier


async def test_a_release_dated_before_the_arrest_is_refused_and_changes_nothing(
    stack: Stack,
) -> None:
    report_id, unit, _ = await routed_custody(stack)
    before = dict(await held_case(stack.database_url, report_id))
    arrest = before["deadline_from"]
    early = arrest - dt.timedelta(days=1)
    answer = await send(stack, report_id, event(unit, "released", occurred_at=early.isoformat()))
    assert answer.status_code == 409, answer.text
    assert problem_type(answer) == "before-moment"
    assert answer.json()["refusal"] == "before_moment"
    assert "before the arrest its deadline counts from" in answer.json()["detail"]
    assert dict(await held_case(stack.database_url, report_id)) == before
    # After the arrest, though before the case was routed, it ends the custody on time.
    released = await send(
        stack, report_id, event(unit, "released", occurred_at=(arrest + MINUTE).isoformat())
    )
    assert released.status_code == 201, released.text
    assert released.json()["deadline"]["state"] == "met_on_time"
