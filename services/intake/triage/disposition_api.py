"""Dispositions and approvals over HTTP: `POST /v1/triage/{report_id}/<correct|route|
transfer|link|close>` for the holder of a report's claim, and the prosecutors' review list,
`approve`, `reject` and a downgrade's `reviewed`. Thin: the body read and checked, the use
case run, its answer (or the first answer, on a retry) returned as it was."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import msgspec
from litestar import Controller, Request, Response, post, route
from litestar.params import FromPath, FromQuery
from litestar.status_codes import HTTP_200_OK

from services.common.logging import get_logger
from services.intake.api import GET_AND_HEAD
from services.intake.people import PERSON, Signed, requires_prosecutor, requires_triage
from services.intake.problems import problem
from services.intake.state import state_of
from services.intake.triage import approvals, bodies, correcting, dispositions, transfers
from services.intake.triage.acts import HEADER, Answer
from services.intake.triage.disposition_model import (
    Close,
    Correct,
    Decide,
    Link,
    Reviews,
    Route,
    Transfer,
)
from services.intake.triage.worklist_api import problem_responses

log = get_logger("triage")
T = TypeVar("T", bound=msgspec.Struct)
AnyRequest = Request[Any, Any, Any]


def context_of(request: AnyRequest) -> dispositions.Context:
    """The dispositions' parts of the app (503 when the app has none)."""
    state = state_of(request)
    if state.dispositions is None or state.rulebook is None or state.grounds is None:
        raise problem(
            503, "dispositions-unavailable", "Dispositions unavailable", "this intake has none"
        )
    return dispositions.Context(
        store=state.dispositions,
        rules=state.rulebook,
        grounds=state.grounds,
        options=state.service.options,
    )


async def body_of(request: AnyRequest, kind: type[T]) -> tuple[T, dict[str, Any]]:
    """The body as the request type and as the JSON object it was (for the retry's
    fingerprint), read and refused as `bodies.read_json` says (400, 413, 415, 422)."""
    return await bodies.read_json(request, kind)


def answered(request: AnyRequest, person: Signed, what: str, answer: Answer) -> Response[Any]:
    """The answer as a response; logged with ids and roles only (no reasons)."""
    log.info(
        what,
        report_id=str(answer.body.get("report_id")),
        act_id=str(answer.body.get("act_id")),
        person=person.subject,
        role=person.acting_role,
        state=answer.body.get("state"),
    )
    return Response(answer.body, status_code=answer.status)


_KEY_DOC = (
    f" A retry with the same `{HEADER}` header (else the same claim) gets the first answer "
    "and changes nothing; the same key for another request: 422."
)


# Every answer a disposition or approval may give besides its 200: each a problem.
ANSWERS = problem_responses(
    {
        400: "The body is not JSON, is nested too deeply, or a parameter is wrong",
        401: "No valid access token of a person",
        403: "Not the person's role or district, or four eyes refused",
        404: "No such report on the work list, or none the person may see",
        408: "The body did not arrive in time",
        409: "Not waiting, not claimed by the caller, or already decided",
        413: "The body is too large",
        415: "The body is not JSON",
        422: "The request is not valid: every problem named with its path",
        503: "The database or the identity provider cannot be reached; try again",
    }
)


class DispositionController(Controller):
    """What the holder of a report's claim does with it (assessors and prosecutors)."""

    path = "/v1/triage"
    tags = ("triage",)
    guards = (requires_triage,)
    dependencies = PERSON

    @post(
        "/{report_id:uuid}/correct",
        status_code=HTTP_200_OK,
        responses=ANSWERS,
        summary="Correct a claimed report: a new version, standardised and decided again",
        description=(
            "`changes` maps keys (`incident.municipality`, `offences`, `offences[i]`, "
            "`persons[i].role|birth_date|national_id`, `flags.<name>`) to new values. "
            "`?preview=true` answers the new report, its quality issues and the rules' "
            "decision without storing anything. A downgrade needs a `reason`." + _KEY_DOC
        ),
    )
    async def correct(
        self,
        request: AnyRequest,
        person: Signed,
        report_id: FromPath[uuid.UUID],
        preview: FromQuery[bool] = False,
    ) -> Response[Any]:
        body, raw = await body_of(request, Correct)
        key = request.headers.get(HEADER)
        answer = await correcting.correct_report(
            context_of(request), person, report_id, body, raw, key, preview
        )
        return answered(
            request, person, "report corrected" if not preview else "correction previewed", answer
        )

    @post(
        "/{report_id:uuid}/route",
        status_code=HTTP_200_OK,
        responses=ANSWERS,
        summary="Send a claimed report to a unit",
        description=(
            "`unit` defaults to the rules' suggestion; `priority` and `deadline_at` to the "
            "rules' (an override needs a `reason`; lowering them is a downgrade)." + _KEY_DOC
        ),
    )
    async def route(
        self, request: AnyRequest, person: Signed, report_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        body, raw = await body_of(request, Route)
        answer = await dispositions.route_report(
            context_of(request), person, report_id, body, raw, request.headers.get(HEADER)
        )
        return answered(request, person, "report routed", answer)

    @post(
        "/{report_id:uuid}/transfer",
        status_code=HTTP_200_OK,
        responses=ANSWERS,
        summary="Transfer a claimed report to a district, a unit or another authority",
        description=(
            "`to`: `{district}`, `{unit}` (such as `kripos`) or `{authority, "
            "organisation_number}` (a proposal a prosecutor approves); `reason` required."
            + _KEY_DOC
        ),
    )
    async def transfer(
        self, request: AnyRequest, person: Signed, report_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        body, raw = await body_of(request, Transfer)
        answer = await transfers.transfer_report(
            context_of(request), person, report_id, body, raw, request.headers.get(HEADER)
        )
        return answered(request, person, "report transferred", answer)

    @post(
        "/{report_id:uuid}/link",
        status_code=HTTP_200_OK,
        responses=ANSWERS,
        summary="Link a claimed report to another report's case",
        description="It goes, as a linked case, to the unit the other went to." + _KEY_DOC,
    )
    async def link(
        self, request: AnyRequest, person: Signed, report_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        body, raw = await body_of(request, Link)
        answer = await transfers.link_report(
            context_of(request), person, report_id, body, raw, request.headers.get(HEADER)
        )
        return answered(request, person, "report linked", answer)

    @post(
        "/{report_id:uuid}/close",
        status_code=HTTP_200_OK,
        responses=ANSWERS,
        summary="Propose closing a claimed report early (henleggelse)",
        description=(
            "`ground` from the closure grounds' catalogue, `reason` required; a prosecutor "
            "other than the proposer approves or rejects it." + _KEY_DOC
        ),
    )
    async def close(
        self, request: AnyRequest, person: Signed, report_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        body, raw = await body_of(request, Close)
        answer = await transfers.propose_closure(
            context_of(request), person, report_id, body, raw, request.headers.get(HEADER)
        )
        return answered(request, person, "closure proposed", answer)


class ApprovalController(Controller):
    """The prosecutors' four eyes: the review list, approvals, rejections, reviews."""

    path = "/v1/triage"
    tags = ("triage",)
    guards = (requires_prosecutor,)
    dependencies = PERSON

    @route(
        "/reviews",
        http_method=GET_AND_HEAD,
        summary="Proposals and downgrades waiting for a prosecutor",
        responses=problem_responses(
            {
                401: "No valid access token of a person",
                403: "Not a prosecutor",
                503: "The database or the identity provider cannot be reached; try again",
            }
        ),
    )
    async def reviews(self, request: AnyRequest, person: Signed) -> Reviews:
        return await approvals.reviews(context_of(request), person)

    @post(
        "/{report_id:uuid}/approve",
        status_code=HTTP_200_OK,
        responses=ANSWERS,
        summary="Approve a report's pending proposal (closure or transfer out)",
        description="Not by its proposer (403); no proposal pending: 409." + _KEY_DOC,
    )
    async def approve(
        self, request: AnyRequest, person: Signed, report_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        body, raw = await body_of(request, Decide)
        answer = await approvals.decide_proposal(
            context_of(request), person, report_id, True, body, raw, request.headers.get(HEADER)
        )
        return answered(request, person, "proposal approved", answer)

    @post(
        "/{report_id:uuid}/reject",
        status_code=HTTP_200_OK,
        responses=ANSWERS,
        summary="Reject a report's pending proposal: back on the work list",
        description="`reason` required; not by its proposer (403)." + _KEY_DOC,
    )
    async def reject(
        self, request: AnyRequest, person: Signed, report_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        body, raw = await body_of(request, Decide)
        answer = await approvals.decide_proposal(
            context_of(request), person, report_id, False, body, raw, request.headers.get(HEADER)
        )
        return answered(request, person, "proposal rejected", answer)

    @post(
        "/reviews/{act_id:uuid}/reviewed",
        status_code=HTTP_200_OK,
        responses=ANSWERS,
        summary="Mark another person's downgrade reviewed",
        description="Not by its author (403); reviewed already: 409." + _KEY_DOC,
    )
    async def reviewed(
        self, request: AnyRequest, person: Signed, act_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        body, raw = await body_of(request, Decide)
        answer = await approvals.mark_reviewed(
            context_of(request), person, act_id, body, raw, request.headers.get(HEADER)
        )
        return answered(request, person, "downgrade reviewed", answer)
