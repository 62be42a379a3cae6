"""Operators' sessions against the real intake and PostgreSQL: sign-out ends a session, an
absolute and an idle lifetime end it however it is used, no answer renews the cookie, a
cookie that does not hold is no session (never a 500), and the sign-in forms take only
same-origin, form-encoded, small posts."""

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

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.intake.access import Clients
from services.intake.app import create_app
from services.intake.settings import IntakeSettings, OpsSettings
from tests.conftest import LogCapture
from tests.support.clients import CLIENTS_YAML, KEYS, auth

COOKIE = "fsi_ops_session"
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
    intake_settings: Callable[..., IntakeSettings],
) -> AsyncIterator[AsyncTestClient[Any]]:
    # The default lifetimes: 8 hours absolute, 30 minutes idle.
    settings = msgspec.structs.replace(
        intake_settings(), ops=OpsSettings(interval_seconds=1, cookie_secure=False)
    )
    async with AsyncTestClient(create_app(settings, configure_logging=False)) as started:
        yield started


def drive(client: AsyncTestClient[Any]) -> Clock:
    clock = Clock()
    client.app.state.ops_sessions.clock = clock
    return clock


async def sign_in(client: AsyncTestClient[Any]) -> str:
    """Sign in as the operator from the intake's own page; the session cookie's value."""
    answer = await client.post(
        "/ops/login", data={"key": KEYS["ops"]}, headers=OWN, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/ops"
    value = client.cookies.get(COOKIE)
    assert value
    return value


async def page_with(client: AsyncTestClient[Any], cookie: str) -> int:
    """The status of /ops with exactly this session cookie (303: sent to sign in)."""
    client.cookies.clear()
    answer = await client.get(
        "/ops", headers={"Cookie": f"{COOKIE}={cookie}"}, follow_redirects=False
    )
    if answer.status_code == 303:
        assert answer.headers["location"] == "/ops/login"
    return answer.status_code


def cleared(set_cookie: str) -> bool:
    """True when a Set-Cookie line tells the browser to drop the session cookie."""
    morsel = http.cookies.SimpleCookie(set_cookie)[COOKIE]
    if morsel["max-age"] != "":
        return int(morsel["max-age"]) <= 0
    expires = email.utils.parsedate_to_datetime(morsel["expires"])
    return expires <= dt.datetime.now(dt.UTC)


async def test_signing_out_ends_the_session_of_the_old_cookie(
    client: AsyncTestClient[Any], database_url: str
) -> None:
    cookie = await sign_in(client)
    assert await page_with(client, cookie) == 200
    client.cookies.set(COOKIE, cookie, domain="testserver.local", path="/ops")
    out = await client.post("/ops/logout", headers=OWN, follow_redirects=False)
    assert out.status_code == 303
    assert cleared(out.headers["set-cookie"])
    # A copy of the cookie kept from before (stolen, or in another tab) no longer works.
    assert await page_with(client, cookie) == 303
    # PostgreSQL holds the token's SHA-256 only, and why the session ended.
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT * FROM operator_sessions")
    finally:
        await conn.close()
    assert [(r["token_sha256"], r["subject"], r["end_reason"]) for r in rows] == [
        (hashlib.sha256(cookie.encode()).digest(), "ops", "signed-out")
    ]
    assert cookie not in json.dumps([{k: str(v) for k, v in r.items()} for r in rows])


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
        await client.get("/ops/login"),
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


async def test_a_client_that_loses_the_operator_role_or_is_removed_loses_its_sessions(
    client: AsyncTestClient[Any],
) -> None:
    state = client.app.state.intake
    loaded = state.clients
    cookie = await sign_in(client)
    state.clients = Clients.from_yaml(CLIENTS_YAML.replace("roles: [operator]", "roles: []"))
    assert await page_with(client, cookie) == 303
    # Given the role back, the client signs in again: the old session stays ended.
    state.clients = loaded
    assert await page_with(client, cookie) == 303
    cookie = await sign_in(client)
    state.clients = Clients.from_yaml(CLIENTS_YAML.replace("  - id: ops\n", "  - id: gone\n"))
    assert await page_with(client, cookie) == 303


CROSS = {
    "another site": {"Origin": "https://attacker.example"},
    "another port": {"Origin": "http://testserver.local:8443"},
    "opaque origin": {"Origin": "null"},
    "browser says cross-site": {"Sec-Fetch-Site": "cross-site"},
    "browser says same-site": {
        "Sec-Fetch-Site": "same-site",
        "Origin": "http://testserver.local",
    },
}


@pytest.mark.parametrize("headers", CROSS.values(), ids=CROSS.keys())
async def test_cross_origin_sign_in_and_out_are_refused(
    client: AsyncTestClient[Any], headers: dict[str, str]
) -> None:
    login = await client.post(
        "/ops/login", data={"key": KEYS["ops"]}, headers=headers, follow_redirects=False
    )
    assert login.status_code == 403, login.text
    assert "set-cookie" not in login.headers
    cookie = await sign_in(client)
    client.cookies.set(COOKIE, cookie, domain="testserver.local", path="/ops")
    logout = await client.post("/ops/logout", headers=headers, follow_redirects=False)
    assert logout.status_code == 403
    assert await page_with(client, cookie) == 200


async def test_same_origin_and_non_browser_posts_sign_in_and_out(
    client: AsyncTestClient[Any],
) -> None:
    for headers in (OWN, {"Origin": "http://testserver.local"}, {}):
        login = await client.post(
            "/ops/login", data={"key": KEYS["ops"]}, headers=headers, follow_redirects=False
        )
        assert login.status_code == 303, headers
        logout = await client.post("/ops/logout", headers=headers, follow_redirects=False)
        assert logout.status_code == 303, headers


BODIES: dict[str, dict[str, Any]] = {
    "json": {"json": {"key": KEYS["ops"]}},
    "multipart": {"files": {"key": (None, KEYS["ops"])}},
    "text/plain": {"content": f"key={KEYS['ops']}", "headers": {"Content-Type": "text/plain"}},
    "no type": {"content": f"key={KEYS['ops']}".encode()},
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
async def test_the_sign_in_takes_form_encoded_bodies_only(
    client: AsyncTestClient[Any], body: dict[str, Any]
) -> None:
    headers = {**OWN, **body.get("headers", {})}
    answer = await client.post(
        "/ops/login", **{k: v for k, v in body.items() if k != "headers"}, headers=headers
    )
    assert answer.status_code == 415, answer.text
    assert "set-cookie" not in answer.headers


async def test_sign_out_takes_no_other_body(client: AsyncTestClient[Any]) -> None:
    answer = await client.post("/ops/logout", json={"all": True}, headers=OWN)
    assert answer.status_code == 415


async def test_a_large_sign_in_form_is_refused(client: AsyncTestClient[Any]) -> None:
    padded = {"key": KEYS["ops"], "pad": "x" * 64 * 1024}
    answer = await client.post("/ops/login", data=padded, headers=OWN)
    assert answer.status_code == 413
    assert answer.json()["detail"] == "at most 4096 bytes"
    assert "set-cookie" not in answer.headers


async def test_a_refused_sign_in_is_logged_with_the_address_and_no_key(
    client: AsyncTestClient[Any], log_capture: LogCapture
) -> None:
    before = len(log_capture.lines)
    wrong = await client.post("/ops/login", data={"key": KEYS["alpha"]}, headers=OWN)
    assert wrong.status_code == 401
    logged = [json.loads(line) for _, line in log_capture.lines[before:]]
    refused = [line for line in logged if line.get("event") == "operator sign-in refused"]
    assert len(refused) == 1
    assert refused[0]["client_address"]
    assert not any(KEYS["alpha"] in json.dumps(line) for line in logged)
