"""Signing a development person in to a page of the intake through the real OIDC test
provider without a browser: the authorization code flow as a browser follows it (the
intake's redirect, the provider's login form, the callback)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.people import PASSWORD, ensure_provider

_TRANSACTION = re.compile(r'name="transaction_id" value="([^"]+)"')


async def provider_code(location: str, username: str, password: str = PASSWORD) -> str:
    """The callback URL (path and query) the provider sends the browser back to after
    `username` signs in on its form at `location` (the authorization URL)."""
    ensure_provider()
    async with httpx.AsyncClient(timeout=10) as idp:
        form = await idp.get(location)
        assert form.status_code == 200, form.text[:500]
        found = _TRANSACTION.search(form.text)
        assert found, "the provider showed no login form"
        answer = await idp.post(
            location,
            data={"transaction_id": found.group(1), "username": username, "password": password},
        )
    assert answer.status_code in (302, 303), answer.text[:500]
    back = urlsplit(answer.headers["location"])
    return f"{back.path}?{back.query}"


async def sign_in(client: Any, page: str, username: str) -> httpx.Response:
    """Sign `username` in to `/<page>` with `client` (an httpx-like client of the intake,
    keeping cookies); the callback's answer (303 to the page when it worked)."""
    start = await client.get(f"/{page}/login", follow_redirects=False)
    assert start.status_code == 303, start.text
    callback = await provider_code(start.headers["location"], username)
    answer: httpx.Response = await client.get(callback, follow_redirects=False)
    return answer
