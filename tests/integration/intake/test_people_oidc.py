"""People signed in with the real OIDC test provider (nanoidp, deploy/oidc): its tokens make
the development persons, a token changed after signing or meant for another audience or
issuer is refused (401), a work-list route lets a triage person in and an operator not, and a
provider that cannot be reached is a 503 with Retry-After, through the intake app as it runs
(open_parts makes the verifier from FSI_OIDC_*)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.intake.app import create_app
from services.intake.oidc import OidcVerifier
from services.intake.people import PersonRole, TokenRefused
from services.intake.settings import IntakeSettings, OidcSettings
from tests.support import people

Client = AsyncTestClient[Any]


def tampered(token: str, **changes: Any) -> str:
    """The token with claims changed after signing (its signature kept)."""
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    changed = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{changed}.{signature}"


@pytest.fixture
async def verifier(oidc_issuer: str) -> AsyncIterator[OidcVerifier]:
    verify = OidcVerifier(people.oidc_settings())
    yield verify
    await verify.aclose()


def app_with(settings: IntakeSettings, oidc: OidcSettings) -> Client:
    """The intake of `settings` trusting the provider `oidc` names (not yet entered)."""
    changed = msgspec.structs.replace(settings, oidc=oidc)
    return AsyncTestClient(create_app(changed, configure_logging=False))


@pytest.fixture
async def intake_app(
    intake_settings: Callable[..., IntakeSettings], oidc_issuer: str
) -> AsyncIterator[Client]:
    """The intake on the real database and broker, trusting the local provider."""
    async with app_with(intake_settings(enabled=False), people.oidc_settings()) as client:
        yield client


@pytest.mark.parametrize("person", list(people.PERSONS.values()), ids=lambda p: p.username)
async def test_a_token_of_the_provider_is_the_development_person(
    verifier: OidcVerifier, person: people.DevPerson
) -> None:
    found = await verifier.person(await people.token_for(person.username))
    assert found.subject == person.username
    assert found.roles == {PersonRole(role) for role in person.roles}
    assert found.districts == person.districts
    assert found.national is person.national
    assert found.name == person.name


async def test_anne_is_an_assessor_of_oslo(verifier: OidcVerifier) -> None:
    anne = await verifier.person(await people.token_for("anne"))
    assert (anne.subject, anne.roles, anne.districts) == (
        "anne",
        frozenset({PersonRole.ASSESSOR}),
        frozenset({"oslo"}),
    )
    assert anne.works_triage
    assert not anne.is_prosecutor
    assert anne.may_see("oslo")
    assert not anne.may_see("vest")


async def test_a_token_changed_after_signing_is_refused(verifier: OidcVerifier) -> None:
    token = await people.token_for("anne")
    for changed in (
        tampered(token, roles=["prosecutor"]),
        tampered(token, sub="pia"),
        tampered(token, attributes={"districts": ["national"]}),
    ):
        with pytest.raises(TokenRefused, match="wrong signature"):
            await verifier.person(changed)


async def test_the_id_token_is_not_an_access_token(verifier: OidcVerifier) -> None:
    # The ID token of the same sign-in is signed by the same key, but meant for the page's
    # client (aud fsi-workbench), not the intake.
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.post(
            people.ISSUER + "/token",
            data={
                "grant_type": "password",
                "client_id": people.CLIENT_ID,
                "username": "anne",
                "password": people.PASSWORD,
                "scope": "openid",
            },
        )
    id_token = answer.json()["id_token"]
    with pytest.raises(TokenRefused, match="wrong audience"):
        await verifier.person(id_token)


async def test_a_token_of_another_issuer_name_is_refused(oidc_issuer: str) -> None:
    # The same provider under another name is another issuer: its keys, but not its `iss`.
    settings = people.oidc_settings(
        issuer="http://localhost:8484", jwks_url=people.ISSUER + "/.well-known/jwks.json"
    )
    verify = OidcVerifier(settings)
    try:
        with pytest.raises(TokenRefused, match="wrong issuer"):
            await verify.person(await people.token_for("anne"))
    finally:
        await verify.aclose()


async def test_a_triage_route_admits_by_role_through_the_app(intake_app: Client) -> None:
    anonymous = await intake_app.get("/v1/triage")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    operator = await intake_app.get("/v1/triage", headers=await people.bearer_for("ola"))
    assert operator.status_code == 403, operator.text
    assert "assessor or prosecutor" in operator.json()["detail"]
    for username in ("anne", "pia", "nina"):
        answer = await intake_app.get("/v1/triage", headers=await people.bearer_for(username))
        assert answer.status_code == 200, (username, answer.text)
    forged = tampered(await people.token_for("ola"), roles=["assessor"])
    refused = await intake_app.get("/v1/triage", headers={"Authorization": f"Bearer {forged}"})
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "wrong signature" in refused.json()["detail"]
    # The refusal names the check, never the token.
    assert forged not in refused.text


async def test_an_unreachable_provider_is_503_with_retry_after(
    intake_settings: Callable[..., IntakeSettings], oidc_issuer: str
) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    gone = people.oidc_settings(issuer="http://127.0.0.1:9")
    token = await people.token_for("anne")
    async with app_with(intake_settings(enabled=False), gone) as client:
        answer = await client.get("/v1/triage", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) >= 1
    assert answer.json()["type"].endswith("/identity-provider-unavailable")


async def test_the_page_signs_in_by_code_with_pkce_on_any_loopback_port(
    verifier: OidcVerifier,
) -> None:
    # The workbench's client: a public one, its callbacks registered on 127.0.0.1:8000 and
    # matched on any port (RFC 8252 §7.3), as `make run` on another port needs.
    for redirect in (
        "http://127.0.0.1:8000/triage/callback",
        "http://127.0.0.1:18321/ops/callback",
    ):
        answer = await people.sign_in_by_code("pia", redirect)
        assert answer.status_code == 200, answer.text
        pia = await verifier.person(answer.json()["access_token"])
        assert (pia.subject, pia.roles) == ("pia", frozenset({PersonRole.PROSECUTOR}))
    # PKCE is required: a code exchanged without its verifier gets no token.
    refused = await people.sign_in_by_code("pia", redirect, with_verifier=False)
    assert refused.status_code == 400
    assert "access_token" not in refused.text
    # A callback the client did not register is no place to send a code.
    with pytest.raises(RuntimeError, match="no login form: 400"):
        await people.sign_in_by_code("pia", "http://127.0.0.1:8000/elsewhere")
