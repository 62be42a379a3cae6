"""The work list over HTTP: `GET /v1/triage` (the waiting reports a person sees, most urgent
first, by cursor) and a report's claim (`POST`/`DELETE /v1/triage/{report_id}/claim`).

Only people with the `assessor` or `prosecutor` role get in (bearer access token of the
identity provider); every report and filter is checked against their districts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from litestar import Controller, Request, Response, delete, post, route
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.status_codes import HTTP_200_OK

from services.common.logging import get_logger
from services.intake.api import GET_AND_HEAD
from services.intake.openapi import ProblemDetails
from services.intake.people import PERSON, Signed, requires_triage
from services.intake.problems import problem
from services.intake.state import state_of
from services.intake.triage.bodies import ClaimBody, read_json
from services.intake.triage.model import Claim, Page, Refusal
from services.intake.triage.worklist import Worklist

log = get_logger("triage")
# What the work list's routes may refuse with, each a problem, for the OpenAPI document.
_REFUSALS = {
    401: "No valid access token of the identity provider",
    403: "Not an assessor or prosecutor, or a report (filter) of another district",
    404: "The report is not on the work list",
    409: "Claimed by someone else (`holder`, `lease_until`), not claimed by you, or not waiting",
    422: "A query parameter or a body field that cannot be used, named in `errors`",
    503: "The database or the work list is not available",
}


def problem_responses(described: Mapping[int, str]) -> dict[int, ResponseSpec]:
    """A handler's `responses=`: each status with its description, answered as a problem
    (application/problem+json, the document's `ProblemDetails`)."""
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            generate_examples=False,
            description=text,
            media_type="application/problem+json",
        )
        for status, text in described.items()
    }


def _refusals(*statuses: int) -> dict[int, ResponseSpec]:
    return problem_responses({status: _REFUSALS[status] for status in statuses})


def as_problem(refusal: Refusal) -> ProblemDetailsException:
    """The RFC 9457 problem of a work list's refusal (its extension members included)."""
    return problem(refusal.status, refusal.slug, refusal.title, refusal.detail, **refusal.extra)


def refusal_response(request: Request[Any, Any, Any], exc: Refusal) -> Response[dict[str, Any]]:
    """Exception handler: a `Refusal` raised by any triage handler, answered as its problem."""
    return as_problem(exc).to_response(request)


def worklist_of(request: Request[Any, Any, Any]) -> Worklist:
    """The app's work list (503 when the app was started without one)."""
    worklist = state_of(request).triage
    if worklist is None:
        raise problem(
            503, "work-list-unavailable", "Work list unavailable", "this intake has no work list"
        )
    return worklist


def district_slugs(request: Request[Any, Any, Any]) -> tuple[str, ...] | None:
    """The slugs of the catalogue's districts, in its order, which a work list filter names
    (None when the app has no rule book: a state a test builds by hand)."""
    book = state_of(request).rulebook
    if book is None:
        return None
    return tuple(d.slug for d in book.ruleset.catalogue.districts.values())


class TriageController(Controller):
    """The work list and claims, for people who triage."""

    path = "/v1/triage"
    tags = ("triage",)
    guards = (requires_triage,)
    dependencies = PERSON

    @route(
        "/",
        http_method=GET_AND_HEAD,
        summary="The reports waiting for a person, most urgent first",
        description=(
            "Reports of the caller's districts (all for a national role; those with no "
            "district for everyone), ordered by nearest deadline (none last), then priority, "
            "then age. `district` may be repeated; `cursor` is the previous page's "
            "`next_cursor`; `limit` at most the page size (FSI_TRIAGE_PAGE_SIZE)."
        ),
        responses=_refusals(401, 403, 422, 503),
    )
    async def list_waiting(
        self,
        request: Request[Any, Any, Any],
        person: Signed,
        district: FromQuery[list[str] | None] = None,
        reason: FromQuery[str | None] = None,
        source: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
    ) -> Page:
        return await worklist_of(request).page(
            person,
            districts=district or (),
            reason=reason,
            source=source,
            cursor=cursor,
            limit=limit,
            known=district_slugs(request),
        )

    @post(
        "/{report_id:uuid}/claim",
        status_code=HTTP_200_OK,
        summary="Claim a waiting report (or renew one's own claim) for a lease",
        description=(
            "The answer's `token` is what every disposition sends as `claim`. Another person's "
            "live claim: 409 naming `holder` (subject id) and `lease_until`. No body, or `{}`."
        ),
        responses=_refusals(401, 403, 404, 409, 422, 503),
    )
    async def claim(
        self, request: Request[Any, Any, Any], person: Signed, report_id: FromPath[uuid.UUID]
    ) -> Claim:
        await read_json(request, ClaimBody)  # no fields: a body, when sent, is `{}`
        claim = await worklist_of(request).claim(person, report_id)
        log.info(
            "report claimed",
            report_id=str(report_id),
            person=person.subject,
            role=person.acting_role,
        )
        return claim

    @delete(
        "/{report_id:uuid}/claim",
        summary="Release one's claim on a report",
        description="Only the holder may release (409 otherwise).",
        responses=_refusals(401, 403, 404, 409, 422, 503),
    )
    async def release(
        self, request: Request[Any, Any, Any], person: Signed, report_id: FromPath[uuid.UUID]
    ) -> None:
        await read_json(request, ClaimBody)
        await worklist_of(request).release(person, report_id)
        log.info(
            "claim released",
            report_id=str(report_id),
            person=person.subject,
            role=person.acting_role,
        )
