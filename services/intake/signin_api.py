"""People's sign-in and sign-out of the pages: `/triage/login` and `/ops/login` send the
browser to the identity provider, `/<page>/callback` takes it back and opens the session,
`POST /<page>/logout` ends it (`page_signin` holds the cookies, `oidc_signin` the flow)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Controller, Request, post, route
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER

from services.common.logging import get_logger
from services.intake.api import GET_AND_HEAD
from services.intake.oidc_signin import Flow, SignInFailed
from services.intake.ops_api import PAGE_HEADERS, asset
from services.intake.page_signin import (
    COOKIE,
    FLOW_COOKIE,
    FORM_MAX_BYTES,
    PageForbidden,
    cleared_cookie,
    flow_cookie,
    grants_of,
    read_form,
    return_cookie,
    return_path,
    returned_path,
    same_origin,
    session_cookie,
    sessions_of,
    sign_in_of,
)
from services.intake.people import Person, PersonRole, ProviderUnavailable
from services.intake.state import state_of

log = get_logger("signin")
AnyRequest = Request[Any, Any, Any]
# What each page is called on its sign-in page, and who may use it.
TITLES = {"triage": "FSI triage", "ops": "FSI intake — operations"}


def may_use(person: Person, page: str) -> bool:
    """Whether the person's roles open the page: triage for assessors and prosecutors, the
    operations page for operators."""
    if page == "ops":
        return PersonRole.OPERATOR in person.roles
    return person.works_triage


def redirect_uri(request: AnyRequest, page: str) -> str:
    """The callback's absolute URL as the browser reaches this intake: under
    FSI_OIDC_REDIRECT_BASE when set (behind a TLS-terminating proxy), else the request's
    own scheme and Host."""
    signing = sign_in_of(request)
    base = signing.settings.redirect_base.rstrip("/") if signing is not None else ""
    if not base:
        base = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return f"{base}/{page}/callback"


def notice(
    page: str,
    message: str | None,
    status: int,
    *,
    signed_out: bool = False,
    signed_in: str | None = None,
) -> Template:
    """The sign-in page: why a sign-in did not complete (announced), or that the person
    signed out, with the way to sign in (again); for a person signed in (`signed_in`, their
    id and role) whose roles do not open the page, the way to sign out instead."""
    return Template(
        "signin.html",
        context={
            "page": page,
            "title": TITLES[page],
            "error": message,
            "signed_out": signed_out,
            "signed_in": signed_in,
            "asset": asset,
        },
        status_code=status,
        headers=PAGE_HEADERS,
    )


def forbidden_page(request: AnyRequest, exc: PageForbidden) -> Template:
    """Exception handler: a 403 page for a person whose roles do not open the page, naming
    the role it needs, with a button to sign out (to sign in as someone else)."""
    who = request.scope["state"].get("fsi_person")
    return notice(
        exc.page,
        f"Your roles do not open this page: it needs the {exc.wanted} role.",
        403,
        signed_in=str(who) if who else "",
    )


async def _login(request: AnyRequest, page: str) -> Redirect | Template:
    signing = sign_in_of(request)
    if signing is None:
        return notice(page, "No identity provider is configured (FSI_OIDC_ISSUER).", 503)
    try:
        url, flow = await signing.begin(page, redirect_uri(request, page))
    except ProviderUnavailable:
        return notice(page, "The identity provider cannot be reached; try again shortly.", 503)
    # Where to return after it: only a path of this page (never another site's).
    back = return_path(page, request.query_params.get("next")) or ""
    return Redirect(
        url,
        status_code=HTTP_303_SEE_OTHER,
        cookies=[flow_cookie(request, page, flow.encode()), return_cookie(request, page, back)],
    )


async def _callback(
    request: AnyRequest, page: str, code: str | None, state: str | None, error: str | None
) -> Redirect | Template:
    signing = sign_in_of(request)
    people = state_of(request).people
    if signing is None or people is None:
        return notice(page, "No identity provider is configured (FSI_OIDC_ISSUER).", 503)
    try:
        sent = request.cookies.get(FLOW_COOKIE)
        if sent is None:
            raise SignInFailed("this browser began no sign-in here (or took too long)")
        flow = Flow.decode(sent)
        if flow.page != page:
            raise SignInFailed("the sign-in was begun for another page")
        if error is not None:
            # The provider's error code (`access_denied`); a word, never quoted text.
            raise SignInFailed(
                f"the identity provider refused ({error if error.isidentifier() else 'error'})"
            )
        person = await signing.finish(flow, state, code, redirect_uri(request, page), people)
    except SignInFailed as failed:
        log.warning("sign-in failed", page=page, why=failed.why)
        return notice(page, f"Sign-in failed: {failed.why}.", 400)
    except ProviderUnavailable:
        return notice(page, "The identity provider cannot be reached; try again shortly.", 503)
    if not may_use(person, page):
        log.warning("sign-in refused", page=page, person=person.subject, role="none")
        wanted = "operator" if page == "ops" else "assessor or prosecutor"
        return notice(page, f"Your roles do not open this page (it needs {wanted}).", 403)
    sessions = sessions_of(request)
    # A session this browser held before ends: a sign-in always starts a new one.
    if (earlier := request.cookies.get(COOKIE)) is not None:
        await sessions.close(earlier)
    token = await sessions.open(person.subject, signing.settings.issuer, grants_of(person))
    log.info("person signed in", page=page, person=person.subject, role=person.acting_role)
    lifetime = int(sessions.rules.absolute / dt.timedelta(seconds=1))
    back = returned_path(request, page) or f"/{page}"
    return Redirect(
        back,
        status_code=HTTP_303_SEE_OTHER,
        cookies=[
            session_cookie(request, token, lifetime),
            flow_cookie(request, page, ""),
            return_cookie(request, page, ""),
        ],
    )


async def _logout(request: AnyRequest, page: str) -> Redirect:
    await read_form(request, optional=True)
    if (token := request.cookies.get(COOKIE)) is not None:
        await sessions_of(request).close(token)
    return Redirect(
        f"/{page}/signed-out", status_code=HTTP_303_SEE_OTHER, cookies=[cleared_cookie(request)]
    )


class SignInController(Controller):
    """Sign-in, callback, sign-out and the signed-out page of `/triage` and `/ops`."""

    include_in_schema = False

    @route(["/triage/login", "/ops/login"], http_method=GET_AND_HEAD)
    async def login(self, request: AnyRequest) -> Redirect | Template:
        return await _login(request, _page(request))

    @route(["/triage/callback", "/ops/callback"], http_method=GET_AND_HEAD)
    async def callback(self, request: AnyRequest) -> Redirect | Template:
        # Read by hand: `state` is a name Litestar reserves for a handler's parameters.
        query = request.query_params
        return await _callback(
            request, _page(request), query.get("code"), query.get("state"), query.get("error")
        )

    @route(["/triage/signed-out", "/ops/signed-out"], http_method=GET_AND_HEAD)
    async def signed_out(self, request: AnyRequest) -> Template:
        return notice(_page(request), None, 200, signed_out=True)

    @post(
        ["/triage/logout", "/ops/logout"],
        status_code=HTTP_303_SEE_OTHER,
        guards=[same_origin],
        request_max_body_size=FORM_MAX_BYTES,
    )
    async def logout(self, request: AnyRequest) -> Redirect:
        return await _logout(request, _page(request))


def _page(request: AnyRequest) -> str:
    """The page a sign-in route is of: the first segment of its path."""
    return "ops" if request.url.path.startswith("/ops/") else "triage"
