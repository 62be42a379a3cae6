"""The prosecutors' review page (`/triage/reviews`): proposals to approve or reject and
downgrades to mark reviewed, for a person signed in with the prosecutor role."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, post, route
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from services.intake.api import GET_AND_HEAD
from services.intake.page_signin import (
    FORM_MAX_BYTES,
    read_form,
    same_origin,
    signed_person,
)
from services.intake.people import Person
from services.intake.triage import (
    approvals,
    page_views,
)
from services.intake.triage.disposition_api import context_of
from services.intake.triage.disposition_model import Decide
from services.intake.triage.model import Refusal
from services.intake.triage.page_common import (
    SIGN_IN,
    AnyRequest,
    refused,
    render,
    requires_triage_page,
)
from services.intake.triage.page_data import units_of


class ReviewPages(Controller):
    """The prosecutors' review list: proposals to approve or reject, downgrades to review."""

    path = "/triage/reviews"
    include_in_schema = False
    guards = (requires_triage_page,)
    exception_handlers = SIGN_IN

    @route("/", http_method=GET_AND_HEAD)
    async def reviews(self, request: AnyRequest) -> Template:
        return await reviews_page(request, signed_person(request))

    @post(
        ["/{report_id:uuid}/approve", "/{report_id:uuid}/reject"],
        guards=[same_origin],
        request_max_body_size=FORM_MAX_BYTES,
        status_code=HTTP_303_SEE_OTHER,
    )
    async def decide(
        self, request: AnyRequest, report_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        approve = request.url.path.endswith("/approve")

        async def use(person: Person, body: Decide, raw: dict[str, Any], key: str | None) -> None:
            await approvals.decide_proposal(
                context_of(request), person, report_id, approve, body, raw, key
            )

        failed = f"{'approve' if approve else 'reject'}-{report_id}"
        return await _prosecutors_act(request, failed, "approved" if approve else "rejected", use)

    @post(
        "/downgrades/{act_id:uuid}",
        guards=[same_origin],
        request_max_body_size=FORM_MAX_BYTES,
        status_code=HTTP_303_SEE_OTHER,
    )
    async def reviewed(
        self, request: AnyRequest, act_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        async def use(person: Person, body: Decide, raw: dict[str, Any], key: str | None) -> None:
            await approvals.mark_reviewed(context_of(request), person, act_id, body, raw, key)

        return await _prosecutors_act(request, f"reviewed-{act_id}", "reviewed", use)


# A prosecutor's act on the review page: (person, body, the form as sent, its key) -> done.
Act = Callable[[Person, Decide, dict[str, Any], str | None], Awaitable[None]]


async def _prosecutors_act(
    request: AnyRequest, failed: str, done: str, use: Act
) -> Redirect | Template:
    """A review form's act by the signed-in prosecutor: done, back to the list saying
    `done`; refused, the list again with the refusal on the form `failed` and what was sent."""
    person = signed_person(request)
    form = await read_form(request, optional=True)
    try:
        if not person.is_prosecutor:
            raise not_prosecutor()
        raw = page_views.decide(form)
        await use(person, page_views.body(Decide, raw), raw, form.get("key") or None)
    except Refusal as refusal:
        extra = {"form": form, "failed": failed, **refused(refusal, failed)}
        return await reviews_page(request, person, extra)
    return Redirect(f"/triage/reviews?done={done}", status_code=HTTP_303_SEE_OTHER)


def not_prosecutor() -> Refusal:
    return Refusal(403, "forbidden-role", "Role not allowed", "this needs the prosecutor role")


async def reviews_page(
    request: AnyRequest, person: Person, extra: dict[str, Any] | None = None
) -> Template:
    extra = extra or {}
    context: dict[str, Any] = {"person": person, "form": {}, "reviews": None}
    if not person.is_prosecutor:
        return render("triage_reviews.html", {**context, **refused(not_prosecutor())}, 403)
    context["reviews"] = await approvals.reviews(context_of(request), person)
    context["units"] = units_of(request)
    context["done"] = page_views.DONE.get(request.query_params.get("done", ""))
    return render("triage_reviews.html", {**context, **extra}, extra.get("status", 200))
