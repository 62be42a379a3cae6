"""`POST /v1/cases/{report_id}/events` in process, over a case event store in memory that judges
with the real model: who may post (401, 429, 403 by role and by unit), every problem of a body
named by its path with its value as written (never one shaped as an identity number), the
store's verdicts as answers (201, 200, 404, 409, 422), the counter; the document's body."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import jsonschema
import pytest
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.testing import TestClient
from prometheus_client import REGISTRY

from services.intake.app import Parts, create_app
from services.intake.settings import AccessSettings, HttpSettings, IntakeSettings
from tests.support.clients import CLIENTS_YAML, auth
from tests.unit.intake.case_events_memory import (
    FOREIGN,
    NOW,
    OTHER_UNIT,
    UNIT,
    UNIT_CLIENTS,
    MemoryCaseEvents,
    unit_auth,
)
from tests.unit.intake.fakes import MemoryReportStore
from tests.unit.intake.inprocess import IDENTITY, PROBLEMS, MemorySessionStore

# The store of the app's current start (a new one at every start).
_STORES: list[MemoryCaseEvents] = []


@asynccontextmanager
async def memory_parts(_: IntakeSettings) -> AsyncIterator[Parts]:
    store = MemoryCaseEvents()
    _STORES.append(store)
    yield Parts(store=MemoryReportStore(), sessions=MemorySessionStore(), cases=store)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    clients_file = tmp_path_factory.mktemp("clients") / "clients.yaml"
    clients_file.write_text(CLIENTS_YAML + UNIT_CLIENTS, "utf-8")
    settings = IntakeSettings(
        http=HttpSettings(max_body_bytes=2048),
        access=AccessSettings(
            clients_file=str(clients_file), rate_per_second=1000, rate_burst=1000
        ),
        environment="development",
    )
    return create_app(settings, configure_logging=False, parts=memory_parts)


@dataclasses.dataclass
class Door:
    http: TestClient[Litestar]
    store: MemoryCaseEvents

    def post(
        self, report_id: str, body: Any, who: dict[str, str] | None = None, **headers: str
    ) -> Any:
        return self.http.post(
            f"/v1/cases/{report_id}/events",
            json=body,
            headers={**(unit_auth() if who is None else who), **headers},
        )


@pytest.fixture
def door(app: Litestar) -> Iterator[Door]:
    with TestClient(app) as http:
        yield Door(http, _STORES[-1])


def event(kind: str = "received", **changes: Any) -> dict[str, Any]:
    at = (NOW - dt.timedelta(minutes=5)).isoformat()
    return {"event_id": str(uuid.uuid4()), "unit": UNIT, "kind": kind, "occurred_at": at, **changes}


def problem(answer: Any, status: int, slug: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    body: dict[str, Any] = answer.json()
    assert body["type"] == PROBLEMS + slug, body
    return body


def counted(kind: str, verdict: str) -> float:
    labels = {"via": "http", "kind": kind, "verdict": verdict}
    return REGISTRY.get_sample_value("fsi_case_events_total", labels) or 0.0


def test_received_then_brought_before_court_in_time_meets_the_deadline(door: Door) -> None:
    report_id = door.store.hold()
    before = counted("brought_before_court", "applied")
    first = door.post(report_id, event())
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["verdict"] == "applied"
    assert answer["report_id"] == answer["case_id"] == report_id
    assert answer["deadline"]["state"] == "open"
    assert answer["deadline"]["met_at"] is None
    court = event("brought_before_court")
    second = door.post(report_id, court)
    assert second.status_code == 201, second.text
    deadline = second.json()["deadline"]
    assert deadline["state"] == "met_on_time"
    assert dt.datetime.fromisoformat(deadline["met_at"]) == dt.datetime.fromisoformat(
        court["occurred_at"]
    )
    assert counted("brought_before_court", "applied") == before + 1
    (incoming,) = [i for i in door.store.calls if str(i.event.event_id) == court["event_id"]]
    assert (incoming.client, incoming.via) == ("unit-oslo", "http")


def test_a_repeat_is_answered_200_and_applied_once(door: Door) -> None:
    report_id = door.store.hold()
    sent = event()
    first, again = door.post(report_id, sent), door.post(report_id, sent)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {**first.json(), "verdict": "repeat"}
    # The same instant written with another offset is the same event.
    moved = dt.datetime.fromisoformat(sent["occurred_at"]).astimezone(
        dt.timezone(dt.timedelta(hours=1))
    )
    assert door.post(report_id, {**sent, "occurred_at": moved.isoformat()}).status_code == 200
    other = door.post(report_id, {**sent, "kind": "released"})
    body = problem(other, 409, "event-conflict")
    assert body["refusal"] == "conflict"


def test_a_case_not_held_is_404_alike_whether_the_report_exists_or_not(door: Door) -> None:
    held_elsewhere = door.store.hold(unit="vest.felles-etterforskning")
    answers = [
        door.post(report_id, event(unit=OTHER_UNIT))
        for report_id in (held_elsewhere, str(uuid.uuid4()))
    ]
    bodies = [problem(a, 404, "not-held") for a in answers]
    for body, report_id in zip(bodies, (held_elsewhere, None), strict=True):
        if report_id:
            body["detail"] = body["detail"].replace(report_id, "<id>")
    assert bodies[0]["title"] == bodies[1]["title"]
    assert "vest" not in str(bodies[0])  # nothing of the unit that holds it


def test_order_refusals_are_409_with_the_times(door: Door) -> None:
    report_id = door.store.hold()
    received = event()
    assert door.post(report_id, received).status_code == 201
    twice = problem(door.post(report_id, event()), 409, "already-received")
    assert twice["refusal"] == "already_received"
    closed_at = NOW - dt.timedelta(minutes=1)
    closed = event("closed", outcome="dismissed", occurred_at=closed_at.isoformat())
    assert door.post(report_id, closed).status_code == 201
    late = problem(
        door.post(report_id, event("released", occurred_at=NOW.isoformat())), 409, "after-closure"
    )
    assert "closed at" in late["detail"]
    routed_before = door.store.hold()
    early = (NOW - dt.timedelta(days=1)).isoformat()
    problem(door.post(routed_before, event(occurred_at=early)), 409, "before-routing")
    # Custody ends in the world before the case reaches its unit: dated before is fine.
    assert door.post(routed_before, event("released", occurred_at=early)).status_code == 201


def test_who_may_post(door: Door) -> None:
    report_id = door.store.hold()
    problem(door.post(report_id, event(), who={}), 401, "unauthenticated")
    not_unit = problem(door.post(report_id, event(), who=auth("alpha")), 403, "forbidden-role")
    assert "unit" in not_unit["detail"]
    foreign = problem(door.post(report_id, event(unit=FOREIGN)), 403, "forbidden-unit")
    assert foreign["unit"] == FOREIGN
    assert FOREIGN in foreign["detail"]
    # A unit id may be all digits: one shaped as an identity number is not repeated back.
    shaped = door.post(report_id, event(unit=IDENTITY))
    assert IDENTITY not in problem(shaped, 403, "forbidden-unit")["detail"]
    assert IDENTITY not in shaped.text
    assert door.store.calls == []  # none of these reached the store
    assert door.post(report_id, event(), who=unit_auth("unit-slow")).status_code == 201
    problem(door.post(report_id, event(), who=unit_auth("unit-slow")), 429, "rate-limited")


@pytest.mark.parametrize(
    ("changes", "path", "value"),
    [
        ({"event_id": "17"}, "$.event_id", "'17'"),
        ({"unit": "Oslo Vold"}, "$.unit", "'Oslo Vold'"),
        ({"kind": "arrested"}, "$.kind", "'arrested'"),
        ({"occurred_at": "yesterday"}, "$.occurred_at", "'yesterday'"),
        ({"occurred_at": 1733000000}, "$.occurred_at", "1733000000"),
        ({"reason": "wrong_unit"}, "$.reason", "'wrong_unit'"),
        ({"kind": "returned"}, "$.reason", None),
        ({"kind": "returned", "reason": "lost"}, "$.reason", "'lost'"),
        ({"kind": "closed"}, "$.outcome", None),
        ({"outcome": "dismissed"}, "$.outcome", "'dismissed'"),
        ({"occurred_at": "2026-11-30T10:00:00"}, "$.occurred_at", "'2026-11-30T10:00:00'"),
        ({"surprise": True}, "$.surprise", None),
        ({"unit": IDENTITY + "x!"}, "$.unit", None),
    ],
)
def test_a_body_that_is_wrong_is_422_naming_the_path_and_quoting_the_value(
    door: Door, changes: dict[str, Any], path: str, value: str | None
) -> None:
    report_id = door.store.hold()
    body = problem(door.post(report_id, event(**changes)), 422, "invalid-case-event")
    (error,) = [e for e in body["errors"] if e["path"] == path]
    assert error.get("value") == value, error
    assert path in body["detail"]
    assert IDENTITY not in str(body)
    assert door.store.calls == []


def test_a_time_in_the_future_is_422_naming_it(door: Door) -> None:
    report_id = door.store.hold()
    # The door judges against its own clock, not the fixed NOW the cases were held at
    # (taken when the suite was collected, maybe many minutes ago).
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).isoformat()
    before = counted("received", "in_future"), counted("received", "invalid")
    body = problem(door.post(report_id, event(occurred_at=later)), 422, "invalid-case-event")
    (error,) = body["errors"]
    assert (error["path"], error["value"]) == ("$.occurred_at", f"'{later}'")
    assert "later than now" in error["message"]
    # Counted as the router counts it: the time alone is wrong.
    assert (counted("received", "in_future"), counted("received", "invalid")) == (
        before[0] + 1,
        before[1],
    )
    # With another rule broken too, it is an invalid event.
    both = event("received", occurred_at=later, reason="wrong_unit")
    assert len(problem(door.post(report_id, both), 422, "invalid-case-event")["errors"]) == 2
    assert counted("received", "invalid") == before[1] + 1
    # Within the clocks' skew it is taken as now.
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)).isoformat()
    assert door.post(report_id, event(occurred_at=soon)).status_code == 201


def test_missing_fields_and_the_path_id_are_named_together(door: Door) -> None:
    answer = door.post("not-a-uuid", {"kind": "received", "other": 1})
    errors = problem(answer, 422, "invalid-case-event")["errors"]
    assert {(e["path"], e.get("value")) for e in errors} == {
        ("report_id", "'not-a-uuid'"),
        ("$.event_id", None),
        ("$.unit", None),
        ("$.occurred_at", None),
        ("$.other", None),
    }
    shaped = problem(door.post(IDENTITY, event()), 422, "invalid-case-event")
    assert shaped["errors"][0]["path"] == "report_id"
    assert "value" not in shaped["errors"][0]
    assert IDENTITY not in str(shaped)


def test_bodies_refused_before_decoding(door: Door) -> None:
    report_id = door.store.hold()
    path = f"/v1/cases/{report_id}/events"
    not_json = door.http.post(
        path, content=b"{", headers={**unit_auth(), "content-type": "application/json"}
    )
    problem(not_json, 400, "malformed-json")
    text = door.http.post(
        path, content=b"{}", headers={**unit_auth(), "content-type": "text/plain"}
    )
    problem(text, 415, "unsupported-media-type")
    big = event(unit="x" * 4000)
    assert door.post(report_id, big).status_code == 413
    repeated = b'{"unit": "a", "unit": "b"}'
    twice = door.http.post(
        path, content=repeated, headers={**unit_auth(), "content-type": "application/json"}
    )
    assert "$.unit" in {e["path"] for e in problem(twice, 422, "invalid-case-event")["errors"]}


def test_the_document_says_the_body_and_every_answer(app: Litestar) -> None:
    document = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    operation = document["paths"]["/v1/cases/{report_id}/events"]["post"]
    statuses = {
        "200",
        "201",
        "400",
        "401",
        "403",
        "404",
        "408",
        "409",
        "413",
        "415",
        "422",
        "429",
        "503",
    }
    assert set(operation["responses"]) == statuses
    assert operation["security"] == [{"apiKey": []}]
    schema = {"$ref": "#/components/schemas/CaseEventBody", "components": document["components"]}
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid(event())
    assert validator.is_valid(event("returned", reason="wrong_unit"))
    assert validator.is_valid(event("closed", outcome="waiver", reason=None))
    for wrong in (
        event("returned"),
        event(reason="wrong_unit"),
        event("prosecution_decision"),
        event(outcome="waiver"),
        event(occurred_at="2026-11-30T10:00:00"),
        event(extra=1),
    ):
        assert not validator.is_valid(wrong), wrong


@pytest.mark.parametrize(
    "written", ["0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z", "1899-06-01T12:00:00Z"]
)
def test_a_time_outside_a_reports_years_is_422_naming_it(door: Door, written: str) -> None:
    report_id = door.store.hold()
    body = problem(door.post(report_id, event(occurred_at=written)), 422, "invalid-case-event")
    (error,) = body["errors"]
    assert (error["path"], error["value"]) == ("$.occurred_at", f"'{written}'")
    assert error["message"] == "must lie between 1900 and 2100 (UTC)"
    assert door.store.calls == []


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"kind": "recieved"}, "$.kind", "`received`, `returned`, `interview_held`"),
        (
            {"kind": "returned", "reason": "wrong unit"},
            "$.reason",
            "`wrong_unit`, `wrong_district`, `not_for_the_police`, `incomplete`",
        ),
        ({"kind": "closed", "outcome": "henlagt"}, "$.outcome", "`indictment`, `summary_fine`"),
    ],
)
def test_a_word_not_in_its_vocabulary_is_answered_with_the_words(
    door: Door, changes: dict[str, Any], path: str, words: str
) -> None:
    report_id = door.store.hold()
    body = problem(door.post(report_id, event(**changes)), 422, "invalid-case-event")
    (error,) = [e for e in body["errors"] if e["path"] == path]
    assert error["message"].startswith("Invalid enum value"), error
    assert f": one of {words}" in error["message"]
