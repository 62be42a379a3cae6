"""People's page sessions against the real intake, PostgreSQL and the local OIDC test
provider: signing in with the authorization code flow (PKCE, state, nonce) opens one
session for the pages, each page opens to its roles, sign-out ends it, an absolute and an
idle lifetime end it however it is used, no answer renews the cookie, a cookie that does
not hold is no session (never a 500), a callback that is not of this browser's sign-in
opens none, and sign-out takes only same-origin, form-encoded posts."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import http.cookies
import json
import os
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.intake.app import create_app
from services.intake.oidc_signin import challenge
from services.intake.settings import IntakeSettings, OpsSettings
from tests.conftest import LogCapture
from tests.support import signin
from tests.support.clients import auth
from tests.support.people import ISSUER

COOKIE = "fsi_session"
FLOW = "fsi_sign_in"
# The provider sends a browser back to a loopback redirect URI on any port (RFC 8252).
BASE = "http://127.0.0.1:8000"
HOST = "127.0.0.1"
# What a browser sends with a form of the intake's own page (whose referrer policy is
# no-referrer, so its origin is said as null).
OWN = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}


class Clock:
    """The sessions' clock, moved by the test instead of waiting hours."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
async def client(
    intake_settings: Callable[..., IntakeSettings], oidc_issuer: str
) -> AsyncIterator[AsyncTestClient[Any]]:
    # The default lifetimes: 8 hours absolute, 30 minutes idle.
    settings = msgspec.structs.replace(
        intake_settings(), ops=OpsSettings(interval_seconds=1, cookie_secure=False)
    )
    app = create_app(settings, configure_logging=False)
    async with AsyncTestClient(app, base_url=BASE) as started:
        yield started


def drive(client: AsyncTestClient[Any]) -> Clock:
    clock = Clock()
    client.app.state.ops_sessions.clock = clock
    return clock


async def sign_in(client: AsyncTestClient[Any], username: str = "ola", page: str = "ops") -> str:
    """Sign a development person in to a page; the session cookie's value."""
    answer = await signin.sign_in(client, page, username)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/{page}"
    value = client.cookies.get(COOKIE)
    assert value
    return value


async def page_with(client: AsyncTestClient[Any], cookie: str, page: str = "/ops") -> int:
    """The status of a page with exactly this session cookie (303: sent to sign in)."""
    client.cookies.clear()
    answer = await client.get(
        page, headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False
    )
    if answer.status_code == 303:
        assert answer.headers["location"] == f"{page}/login"
    return answer.status_code


def cleared(set_cookie: str, name: str = COOKIE) -> bool:
    """True when a Set-Cookie line tells the browser to drop the cookie."""
    morsel = http.cookies.SimpleCookie(set_cookie)[name]
    if morsel["max-age"] != "":
        return int(morsel["max-age"]) <= 0
    expires = email.utils.parsedate_to_datetime(morsel["expires"])
    return expires <= dt.datetime.now(dt.UTC)


def set_cookies(answer: Any) -> dict[str, str]:
    """Each cookie an answer sets, by name: its Set-Cookie line."""
    found = {}
    for line in answer.headers.get_list("set-cookie"):
        found[line.partition("=")[0]] = line
    return found


async def test_the_sign_in_is_the_code_flow_with_pkce_and_opens_one_session(
    client: AsyncTestClient[Any], database_url: str
) -> None:
    start = await client.get("/triage/login", follow_redirects=False)
    assert start.status_code == 303
    where = urlsplit(start.headers["location"])
    asked = {k: v[0] for k, v in parse_qs(where.query).items()}
    assert f"{where.scheme}://{where.netloc}{where.path}" == f"{ISSUER}/authorize"
    assert asked["response_type"] == "code"
    assert asked["client_id"] == "fsi-workbench"
    assert asked["redirect_uri"] == f"{BASE}/triage/callback"
    assert asked["code_challenge_method"] == "S256"
    assert "openid" in asked["scope"].split()
    assert len(asked["state"]) >= 43
    assert len(asked["nonce"]) >= 43
    flow = http.cookies.SimpleCookie(set_cookies(start)[FLOW])[FLOW]
    assert flow["httponly"]
    assert flow["samesite"].lower() == "lax"
    assert flow["path"] == "/triage/callback"
    assert 0 < int(flow["max-age"]) <= 600
    # The cookie carries the verifier whose S256 challenge the provider was sent.
    raw = json.loads(base64.urlsafe_b64decode(flow.value + "=" * (-len(flow.value) % 4)))
    assert raw[0] == asked["state"]
    assert raw[1] == asked["nonce"]
    assert challenge(raw[2]) == asked["code_challenge"]

    callback = await signin.provider_code(start.headers["location"], "anne")
    back = await client.get(callback, follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"] == "/triage"
    lines = set_cookies(back)
    session = http.cookies.SimpleCookie(lines[COOKIE])[COOKIE]
    assert session["httponly"]
    assert session["samesite"].lower() == "lax"
    assert session["path"] == "/"
    assert int(session["max-age"]) == 8 * 3600
    assert cleared(lines[FLOW], FLOW)
    page = await client.get("/triage")
    assert page.status_code == 200
    assert "Signed in as <b>anne</b> (assessor, oslo)" in page.text
    conn = await asyncpg.connect(database_url)
    try:
        rows = [dict(r) for r in await conn.fetch("SELECT * FROM operator_sessions")]
    finally:
        await conn.close()
    assert len(rows) == 1
    assert rows[0]["token_sha256"] == hashlib.sha256(session.value.encode()).digest()
    assert (rows[0]["subject"], rows[0]["credential"]) == ("anne", ISSUER)
    grants = {"roles": ["assessor"], "districts": ["oslo"], "national": False}
    assert json.loads(rows[0]["grants"]) == grants
    # Neither the token nor the person's name is kept.
    stored = json.dumps([{k: str(v) for k, v in r.items()} for r in rows])
    assert session.value not in stored
    assert "Anne Assessor" not in stored


async def test_a_callback_not_of_this_browsers_sign_in_opens_no_session(
    client: AsyncTestClient[Any],
) -> None:
    start = await client.get("/triage/login", follow_redirects=False)
    callback = await signin.provider_code(start.headers["location"], "anne")
    path, _, query = callback.partition("?")
    code = parse_qs(query)["code"][0]
    refused = await client.get(f"{path}?code={code}&state={'x' * 43}", follow_redirects=False)
    assert refused.status_code == 400
    assert 'role="alert"' in refused.text
    assert "not of the sign-in this browser began" in refused.text
    assert COOKIE not in set_cookies(refused)
    # Without the flow's cookie (another browser), the real callback opens none either.
    flow = client.cookies.get(FLOW)
    assert flow
    client.cookies.clear()
    elsewhere = await client.get(callback, follow_redirects=False)
    assert elsewhere.status_code == 400
    assert COOKIE not in set_cookies(elsewhere)
    # The browser that began it signs in; its code, used once, is refused a second time.
    client.cookies.set(FLOW, flow, domain=HOST, path="/triage/callback")
    done = await client.get(callback, follow_redirects=False)
    assert done.status_code == 303, done.text
    client.cookies.set(FLOW, flow, domain=HOST, path="/triage/callback")
    again = await client.get(callback, follow_redirects=False)
    assert again.status_code == 400
    assert "refused the code" in again.text


async def test_each_page_opens_to_its_roles_only(client: AsyncTestClient[Any]) -> None:
    refused = await signin.sign_in(client, "ops", "anne")
    assert refused.status_code == 403
    assert "needs operator" in refused.text
    assert COOKIE not in set_cookies(refused)
    refused = await signin.sign_in(client, "triage", "ola")
    assert refused.status_code == 403
    assert "needs assessor or prosecutor" in refused.text
    cookie = await sign_in(client, "ola", "ops")
    assert await page_with(client, cookie, "/ops") == 200
    assert await page_with(client, cookie, "/triage") == 403
    cookie = await sign_in(client, "pia", "triage")
    assert await page_with(client, cookie, "/triage") == 200
    assert await page_with(client, cookie, "/ops") == 403


async def test_without_a_session_the_pages_send_the_browser_to_sign_in(
    client: AsyncTestClient[Any],
) -> None:
    # A page below the root is named, to return to after the sign-in.
    for page, login in (
        ("/ops", "/ops/login"),
        ("/triage", "/triage/login"),
        ("/triage/reviews", "/triage/login?next=/triage/reviews"),
    ):
        answer = await client.get(page, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == login
    # Tools keep reading the overview with an operator client's key, and only so.
    assert (await client.get("/v1/ops/overview", headers=auth("ops"))).status_code in (200, 503)
    assert (await client.get("/v1/ops/overview")).status_code == 401


async def test_signing_out_ends_the_session_of_the_old_cookie(
    client: AsyncTestClient[Any], database_url: str
) -> None:
    cookie = await sign_in(client)
    assert await page_with(client, cookie) == 200
    client.cookies.set(COOKIE, cookie, domain=HOST, path="/")
    out = await client.post("/ops/logout", headers=OWN, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/ops/signed-out"
    assert cleared(out.headers["set-cookie"])
    # A copy of the cookie kept from before (stolen, or in another tab) no longer works.
    assert await page_with(client, cookie) == 303
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT subject, end_reason FROM operator_sessions")
    finally:
        await conn.close()
    assert [(r["subject"], r["end_reason"]) for r in rows] == [("ola", "signed-out")]


async def test_a_session_ends_at_its_absolute_lifetime_however_busy(
    client: AsyncTestClient[Any],
) -> None:
    clock = drive(client)
    cookie = await sign_in(client)
    # Used every five minutes for the whole eight hours, it holds to the end...
    for _ in range(8 * 12 - 1):
        clock.advance(minutes=5)
        assert await page_with(client, cookie) == 200, clock.now
    # ...and not a moment past it.
    clock.advance(minutes=5)
    assert await page_with(client, cookie) == 303


async def test_a_session_ends_after_its_idle_lifetime(client: AsyncTestClient[Any]) -> None:
    clock = drive(client)
    cookie = await sign_in(client)
    clock.advance(minutes=29)
    assert await page_with(client, cookie) == 200
    clock.advance(minutes=29)  # 58 minutes after sign-in, 29 after the last request
    assert await page_with(client, cookie) == 200
    clock.advance(minutes=30, seconds=1)
    assert await page_with(client, cookie) == 303
    # Ended is ended: using it again does not bring it back.
    clock.advance(seconds=1)
    assert await page_with(client, cookie) == 303


async def test_no_answer_renews_the_session_cookie(client: AsyncTestClient[Any]) -> None:
    await sign_in(client)
    answers = [
        await client.get("/ops"),
        await client.head("/ops"),
        await client.get("/ops"),
        await client.get("/ops/signed-out"),
        await client.get("/ops/static/ops.js"),
        await client.get("/v1/ops/overview", headers=auth("ops")),
    ]
    assert answers[0].status_code == 200
    for answer in answers:
        assert "set-cookie" not in answer.headers, answer.request.url


def _old_format(metadata: bytes) -> str:
    """A cookie shaped like an encrypted client-side session (nonce, data, then the
    metadata in clear) whose metadata is odd."""
    raw = os.urandom(12) + os.urandom(48) + b"additional_authenticated_data=" + metadata
    return base64.b64encode(raw).decode()


ODD_COOKIES = {
    "garbage": "not-a-session",
    "not base64": "%%%%",
    "odd metadata": _old_format(b'{"expires_at": "later"}'),
    "metadata not JSON": _old_format(b"{expires"),
    "far future, not encrypted with our key": _old_format(b'{"expires_at": 99999999999}'),
    "a token's shape, no session": "A" * 43,
    "very long": "x" * 4000,
}


@pytest.mark.parametrize("cookie", ODD_COOKIES.values(), ids=ODD_COOKIES.keys())
async def test_a_cookie_that_does_not_hold_is_no_session(
    client: AsyncTestClient[Any], log_capture: LogCapture, cookie: str
) -> None:
    before = len(log_capture.lines)
    client.cookies.clear()
    answer = await client.get(
        "/ops", headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ops/login"
    # The browser is told to drop it.
    assert cleared(answer.headers["set-cookie"])
    logged = [json.loads(line) for _, line in log_capture.lines[before:]]
    assert [line for line in logged if line.get("level") in ("error", "critical")] == []
    assert len([line for line in logged if line.get("level") == "warning"]) <= 1
    assert not any(cookie in json.dumps(line) for line in logged)


async def test_a_tampered_cookie_is_no_session(client: AsyncTestClient[Any]) -> None:
    cookie = await sign_in(client)
    changed = ("B" if cookie[0] != "B" else "C") + cookie[1:]
    assert await page_with(client, changed) == 303
    assert await page_with(client, cookie + "x") == 303
    assert await page_with(client, cookie) == 200


CROSS = {
    "another site": {"Origin": "https://attacker.example"},
    "another port": {"Origin": "http://127.0.0.1:8443"},
    "opaque origin": {"Origin": "null"},
    "browser says cross-site": {"Sec-Fetch-Site": "cross-site"},
    "browser says same-site": {"Sec-Fetch-Site": "same-site", "Origin": BASE},
}


@pytest.mark.parametrize("headers", CROSS.values(), ids=CROSS.keys())
async def test_cross_origin_sign_out_is_refused(
    client: AsyncTestClient[Any], headers: dict[str, str]
) -> None:
    cookie = await sign_in(client)
    client.cookies.set(COOKIE, cookie, domain=HOST, path="/")
    for page in ("ops", "triage"):
        logout = await client.post(f"/{page}/logout", headers=headers, follow_redirects=False)
        assert logout.status_code == 403
    assert await page_with(client, cookie) == 200


async def test_same_origin_and_non_browser_posts_sign_out(client: AsyncTestClient[Any]) -> None:
    for headers in (OWN, {"Origin": BASE}, {}):
        cookie = await sign_in(client)
        client.cookies.set(COOKIE, cookie, domain=HOST, path="/")
        logout = await client.post("/ops/logout", headers=headers, follow_redirects=False)
        assert logout.status_code == 303, headers
        assert await page_with(client, cookie) == 303


async def test_sign_out_takes_no_other_body(client: AsyncTestClient[Any]) -> None:
    answer = await client.post("/ops/logout", json={"all": True}, headers=OWN)
    assert answer.status_code == 415
    large = await client.post("/triage/logout", data={"pad": "x" * 64 * 1024}, headers=OWN)
    assert large.status_code == 413


async def test_behind_a_proxy_the_callback_is_under_the_configured_base(
    intake_settings: Callable[..., IntakeSettings], oidc_issuer: str
) -> None:
    settings = intake_settings()
    oidc = msgspec.structs.replace(settings.oidc, redirect_base="https://fsi.example/")
    app = create_app(msgspec.structs.replace(settings, oidc=oidc), configure_logging=False)
    async with AsyncTestClient(app, base_url=BASE) as client:
        start = await client.get("/ops/login", follow_redirects=False)
    asked = parse_qs(urlsplit(start.headers["location"]).query)
    assert asked["redirect_uri"] == ["https://fsi.example/ops/callback"]
