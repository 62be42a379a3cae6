"""The triage pages (`/triage`): the work list, a report with a form per disposition, and the
prosecutors' reviews, server-rendered for a person signed in with the identity provider.

Each form posts to this intake's own page (same-origin only) and runs the same use case as
the API, with the session's person; done, it redirects (POST-redirect-GET), refused, the
page comes back with the refusal's words announced (role=alert) and the status of the
refusal. No JavaScript: every flow works with a keyboard and plain forms."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Request, post, route
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from services.common.logging import get_logger
from services.intake.api import GET_AND_HEAD
from services.intake.ops_api import PAGE_HEADERS, asset
from services.intake.page_signin import (
    FORM_MAX_BYTES,
    PageForbidden,
    SignInRequired,
    page_person,
    read_form,
    same_origin,
    sign_in,
    signed_person,
)
from services.intake.people import Person
from services.intake.triage import (
    approvals,
    correcting,
    dispositions,
    page_errors,
    page_views,
    transfers,
)
from services.intake.triage.acts import Answer
from services.intake.triage.disposition_api import context_of
from services.intake.triage.disposition_model import Close, Correct, Decide, Link, Route, Transfer
from services.intake.triage.model import REASONS, Refusal
from services.intake.triage.page_data import lists_of, report_data, units_of
from services.intake.triage.worklist_api import worklist_of

log = get_logger("triage")
AnyRequest = Request[Any, Any, Any]


async def requires_triage_page(connection: Any, _: BaseRouteHandler) -> None:
    """Route guard: a person signed in to the pages with the `assessor` or `prosecutor`
    role (none: 303 to `/triage/login`; another role: a 403 page naming the roles)."""
    person = await page_person(connection, "triage")
    if not person.works_triage:
        raise PageForbidden("triage", "assessor or prosecutor")


def _page(name: str, context: dict[str, Any], status: int = 200) -> Template:
    return Template(
        name,
        context={"asset": asset, "v": page_views, **context},
        status_code=status,
        headers=PAGE_HEADERS,
    )


def _refused(refusal: Refusal, form: str | None = None) -> dict[str, Any]:
    shown = page_errors.shown(refusal, form)
    return {"error": shown.text, "errors": shown, "status": refusal.status}


def _form_name(action: str, form: dict[str, str]) -> str:
    """Which form of the report page was sent: its action, and for a transfer its target
    (three forms post `transfer`); the prefix of that form's field ids."""
    if action == "transfer" and form.get("to") in ("district", "unit", "authority"):
        return f"transfer-{form['to']}"
    return action


def _too_large(request: AnyRequest, _: Exception) -> Template:
    """A form larger than the pages take (a browser keeps to the fields' `maxlength`):
    answered as a page of the triage, saying what was too large, not as JSON."""
    where = request.url.path.rsplit("/", 1)[0]
    back = where if where.startswith("/triage/") and where != "/triage/reviews" else "/triage"
    return _page(
        "triage_missing.html",
        {
            "person": signed_person(request),
            "heading": "The form was too large",
            "error": (
                f"Nothing was done: the pages take forms of at most {FORM_MAX_BYTES // 1024} KiB"
                f" and a reason of at most {page_views.REASON_MAX} characters."
            ),
            "back": "/triage/reviews" if "/reviews" in where else back,
        },
        413,
    )


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
        return _page("triage_missing.html", {"person": person, **_refused(refusal)}, refusal.status)
    done = page_views.DONE.get(request.query_params.get("done", ""))
    return _page(
        "triage_report.html",
        {"person": person, "done": done, "form": {}, **data, **extra},
        extra.get("status", status),
    )


def _back(report_id: uuid.UUID, done: str) -> Redirect:
    return Redirect(f"/triage/{report_id}?done={done}", status_code=HTTP_303_SEE_OTHER)


# A page asked for without a session sends the browser to sign in; a form too large is
# answered by a page.
_SIGN_IN: Any = {SignInRequired: sign_in, 413: _too_large}


class TriagePages(Controller):
    """The work list, a report and the reviews, for assessors and prosecutors."""

    path = "/triage"
    include_in_schema = False
    guards = (requires_triage_page,)
    exception_handlers = _SIGN_IN

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
            )
        except Refusal as refusal:
            return _page(
                "triage_list.html", {**context, "page": None, **_refused(refusal)}, refusal.status
            )
        return _page("triage_list.html", {**context, "page": page, "first": cursor is None})

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
                {"form": form, "failed": failed, **_refused(refusal, failed)},
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


class ReviewPages(Controller):
    """The prosecutors' review list: proposals to approve or reject, downgrades to review."""

    path = "/triage/reviews"
    include_in_schema = False
    guards = (requires_triage_page,)
    exception_handlers = _SIGN_IN

    @route("/", http_method=GET_AND_HEAD)
    async def reviews(self, request: AnyRequest) -> Template:
        return await _reviews_page(request, signed_person(request))

    @post(
        ["/{report_id:uuid}/approve", "/{report_id:uuid}/reject"],
        guards=[same_origin],
        request_max_body_size=FORM_MAX_BYTES,
        status_code=HTTP_303_SEE_OTHER,
    )
    async def decide(
        self, request: AnyRequest, report_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        person = signed_person(request)
        approve = request.url.path.endswith("/approve")
        form = await read_form(request, optional=True)
        try:
            if not person.is_prosecutor:
                raise _not_prosecutor()
            raw = page_views.decide(form)
            await approvals.decide_proposal(
                context_of(request),
                person,
                report_id,
                approve,
                page_views.body(Decide, raw),
                raw,
                form.get("key") or None,
            )
        except Refusal as refusal:
            failed = f"{'approve' if approve else 'reject'}-{report_id}"
            extra = {"form": form, "failed": failed, **_refused(refusal, failed)}
            return await _reviews_page(request, person, extra)
        done = "approved" if approve else "rejected"
        return Redirect(f"/triage/reviews?done={done}", status_code=HTTP_303_SEE_OTHER)

    @post(
        "/downgrades/{act_id:uuid}",
        guards=[same_origin],
        request_max_body_size=FORM_MAX_BYTES,
        status_code=HTTP_303_SEE_OTHER,
    )
    async def reviewed(
        self, request: AnyRequest, act_id: FromPath[uuid.UUID]
    ) -> Redirect | Template:
        person = signed_person(request)
        form = await read_form(request, optional=True)
        try:
            if not person.is_prosecutor:
                raise _not_prosecutor()
            raw = page_views.decide(form)
            await approvals.mark_reviewed(
                context_of(request),
                person,
                act_id,
                page_views.body(Decide, raw),
                raw,
                form.get("key") or None,
            )
        except Refusal as refusal:
            failed = f"reviewed-{act_id}"
            extra = {"form": form, "failed": failed, **_refused(refusal, failed)}
            return await _reviews_page(request, person, extra)
        return Redirect("/triage/reviews?done=reviewed", status_code=HTTP_303_SEE_OTHER)


def _not_prosecutor() -> Refusal:
    return Refusal(403, "forbidden-role", "Role not allowed", "this needs the prosecutor role")


async def _reviews_page(
    request: AnyRequest, person: Person, extra: dict[str, Any] | None = None
) -> Template:
    extra = extra or {}
    context: dict[str, Any] = {"person": person, "form": {}, "reviews": None}
    if not person.is_prosecutor:
        return _page("triage_reviews.html", {**context, **_refused(_not_prosecutor())}, 403)
    context["reviews"] = await approvals.reviews(context_of(request), person)
    context["units"] = units_of(request)
    context["done"] = page_views.DONE.get(request.query_params.get("done", ""))
    return _page("triage_reviews.html", {**context, **extra}, extra.get("status", 200))


# The controllers the app includes.
HANDLERS: list[Any] = [TriagePages, ReviewPages]
