"""`POST /v1/cases/{report_id}/events`: a unit's system reports what happened to a case it
holds. Thin: the guard admits a unit client (401, 429, 403), the body is read and checked
(`body`), the unit must be one of the client's (403), the store judges and applies it
(`services.common.caseevents`), and its outcome is answered and counted."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, Response, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from schemas.caseevents import CaseEvent
from services.common.caseevents import metrics as counted
from services.common.caseevents.model import Refusal
from services.common.caseevents.store import Incoming
from services.common.logging import get_logger
from services.intake import metrics
from services.intake.cases import body
from services.intake.cases.store import Applied, CaseEventStore
from services.intake.cases.view import DeadlineNow
from services.intake.guards import CLIENT, Caller, requires_unit
from services.intake.problems import problem
from services.intake.state import limits_of
from services.intake.triage.worklist_api import problem_responses

log = get_logger("cases")
AnyRequest = Request[Any, Any, Any]


class CaseEventAnswer(msgspec.Struct, frozen=True):
    """The answer to an applied (201) or repeated (200) case event: the ids, the case it
    applies to (a rules' case has the report's id, a person's case the deciding act's), and
    the case's deadline after it (null: the case has none)."""

    event_id: uuid.UUID
    report_id: uuid.UUID
    case_id: uuid.UUID
    verdict: Literal["applied", "repeat"]
    deadline: DeadlineNow | None


# A refusal's problem: its type (slug) and title; the detail is the store's message.
_REFUSED: dict[Refusal, tuple[str, str]] = {
    Refusal.NOT_HELD: ("not-held", "No such case held by this unit"),
    Refusal.CONFLICT: ("event-conflict", "Event id taken by another event"),
    Refusal.AFTER_CLOSURE: ("after-closure", "The case was closed before this"),
    Refusal.ALREADY_RECEIVED: ("already-received", "The case was received already"),
    Refusal.BEFORE_ROUTING: ("before-routing", "Dated before the case was routed"),
    Refusal.BEFORE_MOMENT: ("before-moment", "Dated before its deadline's moment"),
    Refusal.CLOSED_BEFORE_EVENTS: ("closed-before-events", "Closed before a recorded event"),
}

ANSWERS: dict[int, ResponseSpec] = {
    HTTP_200_OK: ResponseSpec(
        data_container=CaseEventAnswer,
        generate_examples=False,
        description="A repeat: this event id with this content was applied before; nothing changed",
    ),
    **problem_responses(
        {
            400: "The body is not JSON, or is nested too deeply",
            401: "No valid API key",
            403: "The client is not a unit's, or the event's unit is not one of its units",
            404: "No case of this report is held by this unit (the same whether the report "
            "exists or not)",
            408: "The body did not arrive in time",
            409: "Out of order (after the case's closure, received twice, before the routing, "
            "closed before a recorded event), or the event id taken by other content",
            413: "The body is too large",
            415: "The body is not JSON",
            422: "The report id or the event is not valid: every problem with its path and "
            "the value as written",
            429: "This client's rate limit is reached",
            503: "PostgreSQL cannot be reached: send the same event again",
        }
    ),
}


def store_of(request: AnyRequest) -> CaseEventStore:
    """The app's case event store (503 when the app was started without one)."""
    store: CaseEventStore | None = getattr(request.app.state, "case_events", None)
    if store is None:
        raise problem(
            503, "case-events-unavailable", "Case events unavailable", "this intake has none"
        )
    return store


def refused(refusal: Refusal, message: str, plain: dict[str, Any]) -> ProblemDetailsException:
    """The problem of an event the store refused: 404 not held, 409 the order or a taken id,
    422 (as a body's problems) a time in the future or a rule across fields."""
    if refusal.status == 422:
        where = "$.occurred_at" if refusal is Refusal.IN_FUTURE else "$"
        value = body.shown(plain.get(where.removeprefix("$."))) if where != "$" else None
        error = {"path": where, "message": message}
        return body.invalid([{**error, "value": value} if value else error])
    slug, title = _REFUSED[refusal]
    return problem(refusal.status, slug, title, message, refusal=refusal.value)


def forbidden_unit(unit: str) -> ProblemDetailsException:
    """403: the event's unit is not one of the client's units; named as written (`unit`
    too), unless it is shaped as an identity number (a unit id may be all digits)."""
    written = body.shown(unit)
    if written is None:
        detail = "this client may not report case events of this unit (not quoted: 11 digits)"
        return problem(403, "forbidden-unit", "Unit not allowed", detail)
    detail = f"this client may not report case events of unit {written}"
    return problem(403, "forbidden-unit", "Unit not allowed", detail, unit=unit)


def _answer(applied: Applied, event: CaseEvent) -> Response[CaseEventAnswer]:
    outcome, case = applied.outcome, applied.case
    deadline = None
    if outcome.deadline is not None and case is not None and case.due_at is not None:
        deadline = DeadlineNow(outcome.deadline, case.due_at, case.met_at)
    verdict: Literal["applied", "repeat"] = "repeat" if outcome.verdict == "repeat" else "applied"
    assert outcome.case_id is not None  # applied and repeated events belong to a case
    answer = CaseEventAnswer(event.event_id, event.report_id, outcome.case_id, verdict, deadline)
    status = HTTP_200_OK if verdict == "repeat" else HTTP_201_CREATED
    return Response(answer, status_code=status)


def _log(client: str, event: CaseEvent, verdict: str) -> None:
    # Ids and codes only: a case event holds no personal data, and its refusal's message
    # (times, ids) is the client's answer, not the log's.
    log.info(
        "case event",
        client=client,
        event_id=str(event.event_id),
        report_id=str(event.report_id),
        unit=event.unit,
        kind=event.kind.value,
        verdict=verdict,
    )


class CaseEventsController(Controller):
    """Case events from the units' systems (API clients with the role `unit`)."""

    path = "/v1/cases"
    tags = ("cases",)
    dependencies = CLIENT

    @post(
        "/{report_id:str}/events",
        status_code=HTTP_201_CREATED,
        guards=[requires_unit],
        responses=ANSWERS,
        summary="Report what happened to a case a unit holds",
        description=(
            "`kind`: `received`, `returned` (with `reason`), `interview_held`, "
            "`brought_before_court`, `released`, `prosecution_decision` and `closed` (each "
            "with `outcome`). `occurred_at` carries an offset and is not in the future "
            "(beyond two minutes). `event_id` is the unit's own: the same event again is "
            "answered 200 and applied once; the same id with other content is a 409. "
            "`unit` must be one of the client's units (403) and hold a case of the report "
            "(404). An event dated after the case's closure, a second `received`, the unit's "
            "own act dated before the routing, or a `closed` dated before a recorded event "
            "is a 409."
        ),
    )
    async def post_event(
        self, request: AnyRequest, client: Caller, report_id: FromPath[str]
    ) -> Response[CaseEventAnswer]:
        limit = limits_of(request).max_body_bytes
        try:
            found_id, sent, plain = await body.read_event(request, report_id, limit)
        except ProblemDetailsException as exc:
            if exc.status_code == 422:
                metrics.case_event(counted.UNKNOWN_KIND, Refusal.INVALID.value)
            raise
        event = CaseEvent.of(found_id, sent)
        kind = event.kind.value
        if not client.may_act_for(event.unit):
            metrics.case_event(kind, counted.UNIT_MISMATCH)
            _log(client.id, event, counted.UNIT_MISMATCH)
            raise forbidden_unit(event.unit)
        now = dt.datetime.now(dt.UTC)
        errors, only_future = body.rule_problems(sent, plain, now)
        if errors:
            refusal = Refusal.IN_FUTURE if only_future else Refusal.INVALID
            metrics.case_event(kind, refusal.value)
            _log(client.id, event, refusal.value)
            raise body.invalid(errors)
        applied = await store_of(request).apply(Incoming(event, client.id, "http"), now)
        outcome = applied.outcome
        verdict = outcome.refusal.value if outcome.refusal is not None else outcome.verdict
        metrics.case_event(kind, verdict)
        _log(client.id, event, verdict)
        if outcome.refusal is not None:
            raise refused(outcome.refusal, outcome.message or outcome.refusal.value, plain)
        return _answer(applied, event)
