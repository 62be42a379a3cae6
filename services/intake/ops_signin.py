"""The operators' sign-in at the HTTP edge: the session cookie, same-origin posts, the form.

The cookie holds only a random token (HttpOnly, SameSite=Strict, path /ops, Secure unless
switched off); what it may do is decided in PostgreSQL by `services.common.sessions`. It is
set once, at sign-in, and cleared at sign-out or when refused: no answer renews it.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any
from urllib.parse import parse_qs, urlsplit

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from services.common import sessions
from services.common.logging import get_logger
from services.common.sessions import Sessions
from services.intake.access import Client
from services.intake.body import read_body
from services.intake.problems import problem
from services.intake.state import ops_page_of, state_of

log = get_logger("ops")
COOKIE = "fsi_ops_session"
COOKIE_PATH = "/ops"
FORM = "application/x-www-form-urlencoded"
# The sign-in form holds one key of 43 characters; a few KiB is plenty, and a stranger's
# large body is refused before it is read.
FORM_MAX_BYTES = 4096
# The form has one field; a body of many is not this form.
_MAX_FIELDS = 8
Connection = ASGIConnection[Any, Any, Any, Any]


def sessions_of(connection: Connection) -> Sessions:
    """The app's operator sessions (made at start, with the database pool)."""
    found: Sessions = connection.app.state.ops_sessions
    return found


def credential(client: Client) -> str:
    """What a session keeps of the key it was opened with: a prefix of its hash."""
    return client.key_sha256[:16]


async def session_operator(request: Connection) -> Client | None:
    """The operator of the request's session cookie, or None: no cookie, or one that does
    not hold (a refusal is one log line with its reason, never the cookie)."""
    token = request.cookies.get(COOKIE)
    if token is None:
        return None
    clients = state_of(request).clients

    # Checked at every request against the clients file as loaded: a client removed, no
    # longer an operator, or with another key ends the sessions it opened.
    def check(record: sessions.SessionRecord) -> str | None:
        client = clients.by_id(record.subject)
        if client is None:
            return "client-removed"
        if not client.is_operator:
            return "not-operator"
        if not hmac.compare_digest(credential(client), record.credential):
            return "key-changed"
        return None

    outcome = await sessions_of(request).resume(token, check)
    if outcome.record is None:
        if outcome.refused == sessions.MALFORMED:
            log.warning("operator session cookie refused", reason=outcome.refused)
        else:
            log.info("operator session refused", reason=outcome.refused)
        return None
    return clients.by_id(outcome.record.subject)


def session_cookie(request: Request[Any, Any, Any], token: str, lifetime: dt.timedelta) -> Cookie:
    """The cookie of a new session; the browser drops it when the session's absolute
    lifetime is over (PostgreSQL refuses it from then on anyway)."""
    return Cookie(
        key=COOKIE,
        value=token,
        max_age=int(lifetime.total_seconds()),
        path=COOKIE_PATH,
        secure=ops_page_of(request).cookie_secure,
        httponly=True,
        samesite="strict",
    )


def cleared_cookie(request: Request[Any, Any, Any]) -> Cookie:
    """Tells the browser to forget the session cookie."""
    return Cookie(
        key=COOKIE,
        value="",
        max_age=0,
        expires=0,
        path=COOKIE_PATH,
        secure=ops_page_of(request).cookie_secure,
        httponly=True,
        samesite="strict",
    )


class SignInRequired(Exception):
    """A page of /ops asked for without an operator's key or session (`sign_in` answers)."""


def sign_in(request: Request[Any, Any, Any], _: SignInRequired) -> Redirect:
    """Exception handler: 303 to the sign-in form; a cookie that did not hold is cleared, so
    the browser stops sending it."""
    sent = COOKIE in request.cookies
    return Redirect(
        "/ops/login",
        status_code=HTTP_303_SEE_OTHER,
        cookies=[cleared_cookie(request)] if sent else None,
    )


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


def same_origin(connection: Connection, _: BaseRouteHandler) -> None:
    """Route guard: the sign-in and sign-out forms are posted from the intake's own pages
    only, so another site cannot sign a browser in or out (403)."""
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
