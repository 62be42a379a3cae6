"""The triage pages (`/triage`): the work list and a report with a form per disposition
(the prosecutors' reviews in `review_pages`), server-rendered for a person signed in with
the identity provider.

Each form posts to this intake's own page (same-origin only) and runs the same use case as
the API, with the session's person; done, it redirects (POST-redirect-GET), refused, the
page comes back with the refusal's words announced (role=alert) and the status of the
refusal. No JavaScript: every flow works with a keyboard and plain forms."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, post, route
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from services.common.logging import get_logger
from services.intake.api import GET_AND_HEAD
from services.intake.page_signin import (
    FORM_MAX_BYTES,
    read_form,
    same_origin,
    signed_person,
)
from services.intake.people import Person
from services.intake.triage import (
    correcting,
    dispositions,
    page_views,
    transfers,
)
from services.intake.triage.acts import Answer
from services.intake.triage.disposition_api import context_of
from services.intake.triage.disposition_model import Close, Correct, Link, Route, Transfer
from services.intake.triage.model import REASONS, Refusal
from services.intake.triage.page_common import (
    SIGN_IN,
    AnyRequest,
    refused,
    render,
    requires_triage_page,
)
from services.intake.triage.page_data import lists_of, report_data
from services.intake.triage.review_pages import ReviewPages
from services.intake.triage.worklist_api import district_slugs, worklist_of

log = get_logger("triage")


def _form_name(action: str, form: dict[str, str]) -> str:
    """Which form of the report page was sent: its action, and for a transfer its target
    (three forms post `transfer`); the prefix of that form's field ids."""
    if action == "transfer" and form.get("to") in ("district", "unit", "authority"):
        return f"transfer-{form['to']}"
    return action


async def _report_page(
    request: AnyRequest,
    person: Person,
    report_id: uuid.UUID,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Template:
    extra = extra or {}
    try:
        data = await report_data(request, person, report_id)
    except Refusal as refusal:
        return render("triage_missing.html", {"person": person, **refused(refusal)}, refusal.status)
    done = page_views.DONE.get(request.query_params.get("done", ""))
    return render(
        "triage_report.html",
        {"person": person, "done": done, "form": {}, **data, **extra},
        extra.get("status", status),
    )


def _back(report_id: uuid.UUID, done: str) -> Redirect:
    return Redirect(f"/triage/{report_id}?done={done}", status_code=HTTP_303_SEE_OTHER)


class TriagePages(Controller):
    """The work list, a report and the reviews, for assessors and prosecutors."""

    path = "/triage"
    include_in_schema = False
    guards = (requires_triage_page,)
    exception_handlers = SIGN_IN

    @route("/", http_method=GET_AND_HEAD)
    async def work_list(
        self,
        request: AnyRequest,
        district: FromQuery[str | None] = None,
        reason: FromQuery[str | None] = None,
        source: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Template:
        person = signed_person(request)
        chosen = {"district": district or "", "reason": reason or "", "source": source or ""}
        context: dict[str, Any] = {"person": person, "chosen": chosen, "reasons": REASONS}
        context["now"] = context_of(request).clock()
        context["districts"] = lists_of(request, person)["districts"]
        try:
            page = await worklist_of(request).page(
                person,
                districts=[district] if district else (),
                reason=reason or None,
                source=source or None,
                cursor=cursor or None,
                known=district_slugs(request),
            )
        except Refusal as refusal:
            return render(
                "triage_list.html", {**context, "page": None, **refused(refusal)}, refusal.status
            )
        return render("triage_list.html", {**context, "page": page, "first": cursor is None})

    @route("/{report_id:uuid}", http_method=GET_AND_HEAD)
    async def report(self, request: AnyRequest, report_id: FromPath[uuid.UUID]) -> Template:
        return await _report_page(request, signed_person(request), report_id)

    @post(
        "/{report_id:uuid}/{action:str}",
        guards=[same_origin],
        request_max_body_size=FORM_MAX_BYTES,
        status_code=HTTP_303_SEE_OTHER,
    )
    async def act(
        self, request: AnyRequest, report_id: FromPath[uuid.UUID], action: FromPath[str]
    ) -> Redirect | Template:
        person = signed_person(request)
        form = await read_form(request, optional=True)
        try:
            return await self._act(request, person, report_id, action, form)
        except Refusal as refusal:
            log.info(
                "page act refused",
                report_id=str(report_id),
                person=person.subject,
                role=person.acting_role,
                action=action,
                status=refusal.status,
            )
            failed = _form_name(action, form)
            return await _report_page(
                request,
                person,
                report_id,
                {"form": form, "failed": failed, **refused(refusal, failed)},
            )

    async def _act(
        self,
        request: AnyRequest,
        person: Person,
        report_id: uuid.UUID,
        action: str,
        form: dict[str, str],
    ) -> Redirect | Template:
        worklist = worklist_of(request)
        if action == "claim":
            await worklist.claim(person, report_id)
            return _back(report_id, "claimed")
        if action == "release":
            await worklist.release(person, report_id)
            return _back(report_id, "released")
        ctx = context_of(request)
        claim = form.get("claim", "")
        key = form.get("key") or None
        if action == "correct":
            raw = page_views.correction(form, claim)
            preview = form.get("step") != "confirm"
            answer = await correcting.correct_report(
                ctx, person, report_id, page_views.body(Correct, raw), raw, key, preview
            )
            if preview:
                extra = {"form": form, "preview": answer.body, "failed": "correct"}
                return await _report_page(request, person, report_id, extra)
            return _back(report_id, "routed" if answer.body.get("case") else "corrected")
        if action == "route":
            raw = page_views.route(form, claim)
            await dispositions.route_report(
                ctx, person, report_id, page_views.body(Route, raw), raw, key
            )
            return _back(report_id, "routed")
        uses: dict[str, tuple[Callable[..., Awaitable[Answer]], type[Any], Any, str]] = {
            "transfer": (transfers.transfer_report, Transfer, page_views.transfer, "transferred"),
            "link": (transfers.link_report, Link, page_views.link, "linked"),
            "close": (transfers.propose_closure, Close, page_views.close, "closure_proposed"),
        }
        if action not in uses:
            raise Refusal(404, "not-found", "Not found", f"no form `{action}` on this page")
        use, kind, build, done = uses[action]
        raw = build(form, claim)
        await use(ctx, person, report_id, page_views.body(kind, raw), raw, key)
        return _back(report_id, done)


# The controllers the app includes.
HANDLERS: list[Any] = [TriagePages, ReviewPages]
