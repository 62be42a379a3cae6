"""The development persons of the local OpenID Connect test provider (deploy/oidc) and their
real access tokens: `await token_for("anne")`, `await bearer_for("pia")`. The provider is
started (deploy/oidc-provider.sh) the first time a token is asked for and it does not answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services.intake.settings import OidcSettings

ROOT = Path(__file__).parents[2]
ISSUER = "http://127.0.0.1:8484"
CLIENT_ID = "fsi-workbench"
# Every development person's password (deploy/oidc/users.yaml).
PASSWORD = "fsi-dev-only"
# nanoidp puts a person's own attributes (districts, name) under `attributes`.
DISTRICTS_CLAIM = "attributes.districts"
NAME_CLAIM = "attributes.name"
# The settings of a process that trusts the provider, as `make run` gives them.
OIDC_ENV = {
    "FSI_OIDC_ISSUER": ISSUER,
    "FSI_OIDC_DISTRICTS_CLAIM": DISTRICTS_CLAIM,
    "FSI_OIDC_NAME_CLAIM": NAME_CLAIM,
}


@dataclass(frozen=True, slots=True)
class DevPerson:
    """A development person as deploy/oidc/users.yaml has them (subject = username)."""

    username: str
    roles: frozenset[str]
    districts: frozenset[str]
    national: bool
    name: str


ANNE = DevPerson("anne", frozenset({"assessor"}), frozenset({"oslo"}), False, "Anne Assessor")
PER = DevPerson("per", frozenset({"assessor"}), frozenset({"vest"}), False, "Per Assessor")
PIA = DevPerson("pia", frozenset({"prosecutor"}), frozenset({"oslo"}), False, "Pia Prosecutor")
PAAL = DevPerson("paal", frozenset({"prosecutor"}), frozenset({"oslo"}), False, "Paal Prosecutor")
NINA = DevPerson("nina", frozenset({"prosecutor"}), frozenset(), True, "Nina National")
OLA = DevPerson("ola", frozenset({"operator"}), frozenset(), False, "Ola Operator")
PERSONS = {person.username: person for person in (ANNE, PER, PIA, PAAL, NINA, OLA)}


def oidc_settings(**overrides: Any) -> OidcSettings:
    """`OidcSettings` trusting the local provider (as `make run` sets FSI_OIDC_*)."""
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "districts_claim": DISTRICTS_CLAIM,
        "name_claim": NAME_CLAIM,
        **overrides,
    }
    return OidcSettings(**values)


def provider_answers() -> bool:
    """True when the local provider's discovery document names its issuer."""
    url = ISSUER + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (a fixed http URL)
            return bool(json.load(answer).get("issuer") == ISSUER)
    except (OSError, ValueError):
        return False


_started = threading.Lock()


def ensure_provider() -> str:
    """The local provider's issuer, started first when it does not answer (a clean clone in
    CI has none running); `RuntimeError` with the script's words when it cannot start."""
    with _started:
        if provider_answers():
            return ISSUER
        done = subprocess.run(  # noqa: S603 (the project's own script)
            ["bash", str(ROOT / "deploy" / "oidc-provider.sh"), "start"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if done.returncode != 0 or not provider_answers():
            raise RuntimeError(f"the OIDC test provider did not start: {done.stdout}{done.stderr}")
        return ISSUER


# Tokens already issued, by username: (token, expiry in epoch seconds).
_tokens: dict[str, tuple[str, float]] = {}


async def token_for(username: str, *, password: str = PASSWORD) -> str:
    """A real access token of a development person from the running provider (password
    grant of the `fsi-workbench` client), reused while it has more than a minute to live;
    `RuntimeError` naming the provider's error when it refuses."""
    held = _tokens.get(username)
    if held is not None and password == PASSWORD and held[1] - time.time() > 60:
        return held[0]
    await asyncio.to_thread(ensure_provider)
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            ISSUER + "/token",
            data={
                "grant_type": "password",
                "client_id": CLIENT_ID,
                "username": username,
                "password": password,
            },
        )
    if answer.status_code != 200:
        raise RuntimeError(f"no token for {username}: {answer.status_code} {answer.text}")
    body = answer.json()
    token: str = body["access_token"]
    if password == PASSWORD:
        _tokens[username] = (token, time.time() + float(body.get("expires_in", 0)))
    return token


async def bearer_for(username: str) -> dict[str, str]:
    """`Authorization: Bearer <access token>` of a development person."""
    return {"Authorization": f"Bearer {await token_for(username)}"}


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636 §4.1-4.2)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def sign_in_by_code(
    username: str, redirect_uri: str, *, with_verifier: bool = True
) -> httpx.Response:
    """The page's sign-in, as a browser would drive it: authorization request with PKCE
    (client `fsi-workbench`), the provider's login form posted, the code from the redirect
    exchanged at the token endpoint (with the code verifier, unless `with_verifier` is
    false). Answers the token endpoint's response; `RuntimeError` when a step before it
    fails (the provider's status named)."""
    await asyncio.to_thread(ensure_provider)
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": "openid",
        "state": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    async with httpx.AsyncClient(base_url=ISSUER, timeout=10) as client:
        page = await client.get("/authorize", params=query)
        found = re.search(r'name="transaction_id"[^>]*value="([^"]+)"', page.text)
        if page.status_code != 200 or found is None:
            raise RuntimeError(f"no login form: {page.status_code}")
        form = {"transaction_id": found.group(1), "username": username, "password": PASSWORD}
        signed_in = await client.post("/authorize", params=query, data=form)
        location = signed_in.headers.get("location", "")
        answer = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
        if signed_in.status_code != 302 or answer.get("state") != [query["state"]]:
            raise RuntimeError(f"no redirect with the code: {signed_in.status_code}")
        exchange = {
            "grant_type": "authorization_code",
            "code": answer["code"][0],
            "redirect_uri": redirect_uri,
            "client_id": CLIENT_ID,
        }
        if with_verifier:
            exchange["code_verifier"] = verifier
        return await client.post("/token", data=exchange)
