"""Tokens the intake must refuse, through the app as it runs (open_parts makes the real
verifier from its settings), each from the real world: an access token of the local OIDC
provider that expired, one re-signed with another key, one of another provider (a second
nanoidp of the test's own, another issuer with its own keys), the provider's ID token (another
audience), and the same claims unsigned (`alg: none`): 401 on `GET /v1/triage`, where the
untouched token gets 200."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from litestar.testing import AsyncTestClient

from services.intake.settings import IntakeSettings
from tests.integration.intake.test_people_oidc import app_with
from tests.support import people
from tests.support.processes import end

ROOT = Path(__file__).parents[3]
Client = AsyncTestClient[Any]


def part(segment: str) -> dict[str, Any]:
    """A JWS segment (header or claims) decoded."""
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def encoded(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.fixture
async def intake(
    intake_settings: Callable[..., IntakeSettings], oidc_issuer: str
) -> AsyncIterator[Client]:
    """The intake trusting the local provider, with no clock skew allowed (a token is
    expired the second its `exp` passes)."""
    oidc = people.oidc_settings(leeway_seconds=0)
    async with app_with(intake_settings(enabled=False), oidc) as client:
        yield client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def answers(issuer: str) -> bool:
    try:
        url = issuer + "/.well-known/openid-configuration"
        with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 (loopback)
            return bool(json.load(answer).get("issuer") == issuer)
    except (OSError, ValueError):
        return False


@pytest.fixture
def other_provider(tmp_path: Path) -> Iterator[str]:
    """A second nanoidp of this test's own: the development persons, another issuer (its
    own port), its own signing keys; stopped after the test."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    config = tmp_path / "oidc"
    config.mkdir()
    settings = (ROOT / "deploy" / "oidc" / "settings.yaml").read_text("utf-8")
    (config / "settings.yaml").write_text(
        settings.replace(people.ISSUER, issuer).replace("port: 8484", f"port: {port}"), "utf-8"
    )
    (config / "users.yaml").write_text(
        (ROOT / "deploy" / "oidc" / "users.yaml").read_text("utf-8"), "utf-8"
    )
    log = (tmp_path / "nanoidp.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 (the project's own dependency)
        [str(ROOT / ".venv" / "bin" / "nanoidp"), "--config", str(config), "--port", str(port)],
        env={"FSI_OIDC_KEYS_DIR": str(tmp_path / "keys"), "PATH": "/usr/bin:/bin"},
        stdout=log,
        stderr=log,
        cwd=tmp_path,
    )
    try:
        for _ in range(120):
            if answers(issuer) or process.poll() is not None:
                break
            time.sleep(0.25)
        if not answers(issuer):
            pytest.fail(
                f"the second provider did not start: {(tmp_path / 'nanoidp.log').read_text()}"
            )
        yield issuer
    finally:
        end(process)
        log.close()


async def issued(issuer: str, username: str, **form: str) -> dict[str, Any]:
    """The token endpoint's answer for a development person (password grant)."""
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            issuer + "/token",
            data={
                "grant_type": "password",
                "client_id": people.CLIENT_ID,
                "username": username,
                "password": people.PASSWORD,
                **form,
            },
        )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def refused(intake: Client, token: str) -> str:
    """The refusal's detail; AssertionError unless it is a 401 problem."""
    answer = await intake.get("/v1/triage", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert token not in answer.text  # the refusal names the check, never the token
    detail: str = answer.json()["detail"]
    return detail


async def admitted(intake: Client, token: str) -> None:
    answer = await intake.get("/v1/triage", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text


async def test_a_wrongly_signed_token_alg_none_and_the_id_token_are_401(intake: Client) -> None:
    token = await people.token_for("anne")
    await admitted(intake, token)
    head, body, _ = token.split(".")
    header, claims = part(head), part(body)

    # The same header (the provider's kid) and claims, signed with a key of our own.
    forged = jwt.encode(header, claims, RSAKey.generate_key(2048))
    assert "wrong signature" in await refused(intake, forged)
    # The same claims with no signature at all.
    unsigned = f"{encoded({'alg': 'none', 'typ': 'JWT'})}.{body}."
    assert "algorithm not allowed" in await refused(intake, unsigned)
    # The ID token of a sign-in: signed by the provider, but for the page's client.
    id_token = (await issued(people.ISSUER, "anne", scope="openid"))["id_token"]
    assert part(id_token.split(".")[1])["aud"] != "fsi-intake"
    assert "wrong audience" in await refused(intake, id_token)


async def test_a_token_of_another_provider_is_401(
    intake: Client,
    other_provider: str,
    intake_settings: Callable[..., IntakeSettings],
) -> None:
    token = (await issued(other_provider, "anne"))["access_token"]
    claims = part(token.split(".")[1])
    assert (claims["iss"], claims["sub"]) == (other_provider, "anne")
    # Its key is none of the trusted provider's (asked again for the unknown kid).
    assert "unknown signing key" in await refused(intake, token)
    # The same token is good where that provider is the one trusted: what is refused is
    # the issuer, not the token.
    theirs = people.oidc_settings(issuer=other_provider, leeway_seconds=0)
    async with app_with(intake_settings(enabled=False), theirs) as trusting:
        await admitted(trusting, token)


async def test_an_expired_token_is_401_once_its_expiry_passes(intake: Client) -> None:
    # The shortest lifetime the provider gives: one minute.
    token = (await issued(people.ISSUER, "pia", exp="1"))["access_token"]
    expiry = part(token.split(".")[1])["exp"]
    assert 0 < expiry - time.time() <= 61
    await admitted(intake, token)
    await asyncio.sleep(max(0.0, expiry - time.time()) + 1.5)
    assert "expired" in await refused(intake, token)


@pytest.mark.parametrize(("path", "who"), [("/v1/triage", "anne"), ("/v1/triage/reviews", "pia")])
async def test_the_work_list_and_the_reviews_answer_head_like_get(
    intake: Client, path: str, who: str
) -> None:
    headers = await people.bearer_for(who)
    got = await intake.get(path, headers=headers)
    head = await intake.head(path, headers=headers)
    assert (got.status_code, head.status_code, head.content) == (200, 200, b"")
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-length"] == str(len(got.content))
    # HEAD is no way around the guard.
    assert (await intake.head(path)).status_code == 401
