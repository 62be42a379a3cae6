"""What every HTTP exchange of the intake goes through: one Authorization header at most, the
security headers on every answer, and refused credentials logged with the caller's address."""

from __future__ import annotations

from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.common.logging import get_logger
from services.intake.openapi_renderings import EXPLORER_CSP as _EXPLORER
from services.intake.problems import problem

log = get_logger("access")

# Every answer may carry personal data (a report, a problem naming a field) or be the
# operators' page: none is cached, framed, sniffed or named in a Referer.
COMMON = {
    b"cache-control": b"no-store",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
}
# An API answer is data, never a document: it may load nothing and be framed nowhere.
DATA_CSP = b"default-src 'none'; frame-ancestors 'none'"
# An HTML page of ours loads only what this origin serves (the /ops page sets a stricter
# policy of its own, which is kept).
PAGE_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    b"object-src 'none'"
)
EXPLORER_CSP = _EXPLORER.encode()
EXPLORER_PATHS = frozenset({"/schema", "/schema/redoc"})
# Only these paths answer with a refusal worth an entry in the log (the API and the
# operators' overview); /ops/login logs its own refused sign-ins.
_LOGGED_PREFIXES = ("/v1/",)


def one_authorization(app: ASGIApp) -> ASGIApp:
    """ASGI middleware: a request with several Authorization fields is refused (400) before
    any handler reads one; which would win depends on who reads, so none does."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            count = sum(1 for name, _ in scope["headers"] if name == b"authorization")
            if count > 1:
                raise problem(
                    400,
                    "several-authorization-headers",
                    "Several Authorization headers",
                    f"the request has {count} `Authorization` header fields; send exactly one",
                )
        await app(scope, receive, send)

    return middleware


async def secure_headers(message: Message, scope: Scope) -> None:
    """Litestar `before_send` hook: add the security headers to an answer's start (those it
    sets itself, such as a static file's Cache-Control or the page's own policy, are kept),
    and log a refused credential (401, 403) of the API with the caller's address."""
    if message["type"] != "http.response.start":
        return
    headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
    present = {name.lower() for name, _ in headers}
    for name, value in COMMON.items():
        if name not in present:
            headers.append((name, value))
    if b"content-security-policy" not in present:
        html = any(n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in headers)
        policy = DATA_CSP
        if html:
            # The explorer, served in development only, loads Redoc (openapi_renderings).
            explorer = scope.get("path") in EXPLORER_PATHS and message["status"] == 200
            policy = EXPLORER_CSP if explorer else PAGE_CSP
        headers.append((b"content-security-policy", policy))
    message["headers"] = headers
    if message["status"] in {401, 403}:
        _log_refusal(message["status"], scope)


def _log_refusal(status: int, scope: Scope) -> None:
    path = str(scope.get("path", ""))
    if not path.startswith(_LOGGED_PREFIXES):
        return
    client: Any = scope.get("client")
    state: Any = scope.get("state") or {}
    # No part of a presented key, not even a hash prefix: what was sent may be a password
    # pasted by mistake, and a hash of a short secret helps guessing it. Address and time
    # find the sender; the route template, never the path (it may hold a report id).
    log.warning(
        "access refused",
        status=status,
        method=scope.get("method"),
        route=str(scope.get("path_template", "")) or None,
        client_address=client[0] if client else None,
        client=state.get("fsi_client"),
    )
