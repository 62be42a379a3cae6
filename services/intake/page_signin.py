"""People's sign-in on the pages at the HTTP edge: the session cookie, the guards of the
pages, same-origin posts and the forms.

A person signs in with the identity provider (`oidc_signin`, authorization code with PKCE)
and gets one session for the pages (`/triage`, and `/ops` for operators): the cookie holds
only a random token (HttpOnly, SameSite=Lax, path /, Secure unless switched off); what it
may do is decided in PostgreSQL by `services.common.sessions`, with the roles and districts
the provider's token gave at sign-in. It is set once, at sign-in, and cleared at sign-out
or when refused: no answer renews it.

SameSite=Lax, not Strict: the sign-in ends with the provider sending the browser to the
callback (a navigation from the provider's site) and the callback sending it on to the
page; a Strict cookie is not sent on that redirect (the chain began on another site), so
the person would land signed out. Lax cookies still never go with another site's POST or
its embedded requests, and every POST of the pages passes `same_origin` too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from services.common import sessions
from services.common.logging import get_logger
from services.common.sessions import Sessions
from services.intake.body import read_body
from services.intake.oidc_signin import FLOW_SECONDS, PageSignIn
from services.intake.people import Person, PersonRole
from services.intake.problems import problem
from services.intake.state import ops_page_of

log = get_logger("signin")
COOKIE = "fsi_session"
COOKIE_PATH = "/"
# The flow of a sign-in under way; only the page's callback receives it.
FLOW_COOKIE = "fsi_sign_in"
# Where the person was going when sent to sign in (a path of the page); the callback's too.
RETURN_COOKIE = "fsi_sign_in_return"
# The page's own routes of signing in and out: never a place to return to.
_NOT_RETURNED = ("login", "callback", "logout", "signed-out")
FORM = "application/x-www-form-urlencoded"
# The pages' forms hold a few short fields and a reason of at most 4000 characters (each
# may take up to 9 bytes percent-encoded); a stranger's larger body is refused unread.
FORM_MAX_BYTES = 40_960
# The largest form (a correction) has a dozen fields and three per person of the report
# (at most 50); a body of more is not a form of ours.
_MAX_FIELDS = 16 + 3 * 50
Connection = ASGIConnection[Any, Any, Any, Any]
_ROLES = {role.value: role for role in PersonRole}
# Where the person a page's guard let in is kept for the handler.
_SIGNED = "fsi_page_person"


def sessions_of(connection: Connection) -> Sessions:
    """The app's page sessions (made at start, with the database pool)."""
    found: Sessions = connection.app.state.ops_sessions
    return found


def sign_in_of(connection: Connection) -> PageSignIn | None:
    """The app's sign-in with the identity provider (None: no FSI_OIDC_ISSUER)."""
    found: PageSignIn | None = getattr(connection.app.state, "page_sign_in", None)
    return found


def grants_of(person: Person) -> dict[str, Any]:
    """What a session keeps of a person: roles, districts, national (never the name)."""
    return {
        "roles": sorted(role.value for role in person.roles),
        "districts": sorted(person.districts),
        "national": person.national,
    }


def person_of(subject: str, grants: dict[str, Any]) -> Person:
    """The person a session's grants describe."""
    return Person(
        subject=subject,
        roles=frozenset(_ROLES[r] for r in grants.get("roles", ()) if r in _ROLES),
        districts=frozenset(str(d) for d in grants.get("districts", ())),
        national=bool(grants.get("national", False)),
    )


async def session_person(connection: Connection) -> Person | None:
    """The person of the request's session cookie, or None: no cookie, or one that does not
    hold (a refusal is one log line with its reason, never the cookie). A session of another
    issuer than the one configured now ends."""
    token = connection.cookies.get(COOKIE)
    if token is None:
        return None
    signing = sign_in_of(connection)
    issuer = signing.settings.issuer if signing is not None else None

    def check(record: sessions.SessionRecord) -> str | None:
        if record.grants is None:
            return "not-a-person"
        return None if record.credential == issuer else "issuer-changed"

    outcome = await sessions_of(connection).resume(token, check)
    if outcome.record is None or outcome.record.grants is None:
        if outcome.refused == sessions.MALFORMED:
            log.warning("session cookie refused", reason=outcome.refused)
        else:
            log.info("session refused", reason=outcome.refused)
        return None
    return person_of(outcome.record.subject, outcome.record.grants)


def _cookie(request: Request[Any, Any, Any], key: str, value: str, age: int, path: str) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        max_age=age,
        expires=0 if age == 0 else None,
        path=path,
        secure=ops_page_of(request).cookie_secure,
        httponly=True,
        samesite="lax",
    )


def session_cookie(request: Request[Any, Any, Any], token: str, lifetime_seconds: int) -> Cookie:
    """The cookie of a new session; the browser drops it when the session's absolute
    lifetime is over (PostgreSQL refuses it from then on anyway)."""
    return _cookie(request, COOKIE, token, lifetime_seconds, COOKIE_PATH)


def cleared_cookie(request: Request[Any, Any, Any]) -> Cookie:
    """Tells the browser to forget the session cookie."""
    return _cookie(request, COOKIE, "", 0, COOKIE_PATH)


def flow_cookie(request: Request[Any, Any, Any], page: str, value: str) -> Cookie:
    """The cookie of a sign-in under way (its state, nonce and PKCE verifier): sent only to
    the page's callback, for at most `FLOW_SECONDS`; cleared by the callback."""
    age = FLOW_SECONDS if value else 0
    return _cookie(request, FLOW_COOKIE, value, age, f"/{page}/callback")


def return_path(page: str, text: str | None) -> str | None:
    """`text` when it is a path of the page a sign-in may return to (`/triage/reviews`,
    `/triage?district=oslo`), else None: a relative path on this site under `/<page>`, no
    scheme, host, backslash, control character or fragment, and not the sign-in's own
    routes; so the callback never redirects anywhere else (no open redirect)."""
    if not text or len(text) > 512 or not text.isascii():
        return None
    if any(c in text for c in "\\#") or any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        return None
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or parts.fragment:
        return None
    root = f"/{page}"
    if parts.path != root and not parts.path.startswith(root + "/"):
        return None
    segments = parts.path[len(root) :].strip("/").split("/")
    if segments[0] in _NOT_RETURNED or ".." in segments or "." in segments:
        return None
    return text


def return_cookie(request: Request[Any, Any, Any], page: str, path: str) -> Cookie:
    """The cookie of where to return after the sign-in (a checked `return_path`; empty:
    cleared); sent only to the page's callback, for at most `FLOW_SECONDS`."""
    age = FLOW_SECONDS if path else 0
    # Percent-encoded: a cookie's value is not to hold `/`, `?` or `=` unquoted.
    return _cookie(request, RETURN_COOKIE, quote(path, safe=""), age, f"/{page}/callback")


def returned_path(request: Request[Any, Any, Any], page: str) -> str | None:
    """The checked `return_path` of the request's return cookie, if any (checked again: the
    cookie comes back from the browser)."""
    sent = request.cookies.get(RETURN_COOKIE)
    return return_path(page, unquote(sent)) if sent else None


class PageForbidden(Exception):
    """A person signed in whose roles do not open the page (`signin_api.forbidden_page`
    answers with a 403 page naming the role it needs and a way to sign out)."""

    def __init__(self, page: str, wanted: str) -> None:
        super().__init__(page)
        self.page = page
        self.wanted = wanted


class SignInRequired(Exception):
    """A page asked for without a session (`sign_in` answers): `page` is where to sign in."""

    def __init__(self, page: str) -> None:
        super().__init__(page)
        self.page = page


def sign_in(request: Request[Any, Any, Any], exc: SignInRequired) -> Redirect:
    """Exception handler: 303 to the page's sign-in, naming the page asked for (`next`, a
    GET's path and query) to return to after it; a cookie that did not hold is cleared,
    so the browser stops sending it."""
    sent = COOKIE in request.cookies
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = return_path(exc.page, target) if request.method in ("GET", "HEAD") else None
    # The page's own root is where a sign-in lands anyway.
    back = None if back == f"/{exc.page}" else back
    return Redirect(
        f"/{exc.page}/login" + (f"?next={quote(back, safe='/')}" if back else ""),
        status_code=HTTP_303_SEE_OTHER,
        cookies=[cleared_cookie(request)] if sent else None,
    )


async def page_person(connection: Connection, page: str) -> Person:
    """The signed-in person of a page's request (`SignInRequired` without a session); kept
    for the handler (`signed_person`) and named by id and role in a refusal's log line."""
    person = await session_person(connection)
    if person is None:
        raise SignInRequired(page)
    state: dict[str, Any] = connection.scope["state"]
    state["fsi_person"] = f"{person.subject} ({person.acting_role})"
    state[_SIGNED] = person
    return person


def signed_person(connection: Connection) -> Person:
    """The person a page's guard let in."""
    state: dict[str, Any] = connection.scope["state"]
    person: Person = state[_SIGNED]
    return person


def cross_origin(headers: Any, host: str | None) -> str | None:
    """Why a post is not from a page of this origin, or None when it is (or when no
    browser sent it: browsers send `Origin` with every POST, other clients need none).
    `Sec-Fetch-Site`, when sent, is the browser's own verdict, scheme included, and decides:
    the pages' `Referrer-Policy: no-referrer` makes a browser send `Origin: null` even for
    its own forms. Without it, the `Origin`'s host and port must be the `Host` the request
    was sent to; the scheme is not compared there, since behind a TLS-terminating proxy the
    intake sees plain HTTP."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return None if site.strip().lower() == "same-origin" else "Sec-Fetch-Site"
    origin = headers.get("origin")
    if origin is None:
        return None
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or not host:
        return "Origin"
    default = "443" if parts.scheme == "https" else "80"
    own = host.strip().lower().removesuffix(":" + default)
    if parts.netloc.lower().removesuffix(":" + default) != own:
        return "Origin"
    return None


async def same_origin(connection: Connection, _: BaseRouteHandler) -> None:
    """Route guard: the pages' forms are posted from the intake's own pages only, so
    another site cannot sign a browser out or act in a person's name (403)."""
    header = cross_origin(connection.headers, connection.headers.get("host"))
    if header is not None:
        raise problem(
            403,
            "cross-origin",
            "Cross-origin form refused",
            f"this form is accepted only from the intake's own pages ({header} differs)",
        )


async def read_form(request: Request[Any, Any, Any], *, optional: bool = False) -> dict[str, str]:
    """The form's fields: `application/x-www-form-urlencoded` only (415 otherwise; with
    `optional`, no body at all is an empty form), at most `FORM_MAX_BYTES` (413) within the
    body timeout (408), UTF-8 (400), each field once (400)."""
    kind = request.headers.get("content-type")
    # A sign-out button posts an empty form; a client may leave out its type.
    if kind is None and optional:
        kind = FORM
    media = (kind or "").partition(";")[0].strip().lower()
    if media != FORM:
        raise problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"this form is sent as {FORM}",
            headers={"Accept": FORM},
        )
    raw = await read_body(request, FORM_MAX_BYTES)
    try:
        text = raw.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=_MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise problem(
            400,
            "malformed-form",
            "Malformed form",
            f"the body is not a form of at most {_MAX_FIELDS} fields in UTF-8",
        ) from None
    # The field names are the sender's: not repeated back.
    if any(len(values) > 1 for values in fields.values()):
        raise problem(400, "malformed-form", "Malformed form", "a field is given more than once")
    return {name: values[0] for name, values in fields.items()}
