"""The pages' sign-in flow (authorization code with PKCE) against a provider made of httpx
transports and test keys: the authorization request, the code exchange, and every check of
the callback and the ID token that must refuse a sign-in."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.intake.oidc_signin import FLOW_SECONDS, Flow, PageSignIn, SignInFailed, challenge
from services.intake.people import Person, ProviderUnavailable
from services.intake.settings import OidcSettings
from tests.unit.intake.oidc_tokens import IMPOSTOR, ISSUER, KEY, SETTINGS, Provider, signed
from tests.unit.intake.oidc_tokens import verifier as people_verifier

CLIENT = "fsi-workbench"
CALLBACK = "https://intake.test/triage/callback"


class CodeProvider(Provider):
    """The test provider with an authorization and a token endpoint: the token endpoint
    answers `answer` (status, JSON) and keeps the forms it was sent."""

    def __init__(self) -> None:
        super().__init__(KEY)
        self.answer: tuple[int, Any] = (200, {})
        self.forms: list[dict[str, str]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "jwks_uri": ISSUER + "/protocol/certs",
                    "authorization_endpoint": ISSUER + "/protocol/auth",
                    "token_endpoint": ISSUER + "/protocol/token",
                },
            )
        if path.endswith("/protocol/token"):
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.forms.append(form)
            if self.down:
                raise httpx.ConnectError("connection refused", request=request)
            status, body = self.answer
            return httpx.Response(status, json=body)
        return super().handle(request)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def sign_in(provider: CodeProvider, clock: Clock, **settings: Any) -> PageSignIn:
    values = {"issuer": ISSUER, "audience": SETTINGS.audience, "client_id": CLIENT, **settings}
    client = httpx.AsyncClient(transport=httpx.MockTransport(provider.handle))
    return PageSignIn(OidcSettings(**values), client=client, clock=clock)


def tokens(flow: Flow, **id_claims: Any) -> dict[str, str]:
    """What the provider answers a good exchange with: an access token for the intake and
    an ID token for the client, of the flow's nonce (claims changed by `id_claims`)."""
    claims = {"aud": CLIENT, "nonce": flow.nonce, "roles": None, "districts": None, **id_claims}
    return {"access_token": signed(), "id_token": signed(**claims), "token_type": "Bearer"}


@pytest.fixture
def provider() -> CodeProvider:
    return CodeProvider()


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def begun(provider: CodeProvider, clock: Clock, **settings: Any) -> tuple[PageSignIn, Flow]:
    signing = sign_in(provider, clock, **settings)
    _, flow = await signing.begin("triage", CALLBACK)
    return signing, flow


async def refusal(signing: PageSignIn, flow: Flow, state: str | None = None) -> str:
    with pytest.raises(SignInFailed) as caught:
        await signing.finish(
            flow, flow.state if state is None else state, "code-1", CALLBACK, people()
        )
    return caught.value.why


def people() -> Any:
    return people_verifier(Provider(KEY))


def test_the_s256_challenge_is_rfc_7636s() -> None:
    # RFC 7636, Appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


async def test_the_authorization_request_asks_for_a_code_with_pkce_state_and_nonce(
    provider: CodeProvider, clock: Clock
) -> None:
    signing = sign_in(provider, clock)
    url, flow = await signing.begin("triage", CALLBACK)
    _, second = await signing.begin("triage", CALLBACK)
    where = urlsplit(url)
    assert f"{where.scheme}://{where.netloc}{where.path}" == ISSUER + "/protocol/auth"
    asked = {k: v[0] for k, v in parse_qs(where.query).items()}
    assert asked == {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": flow.state,
        "nonce": flow.nonce,
        "code_challenge": challenge(flow.verifier),
        "code_challenge_method": "S256",
    }
    # 256 random bits each, never the same twice; the verifier within RFC 7636's 43..128.
    values = {flow.state, flow.nonce, flow.verifier, second.state, second.nonce, second.verifier}
    assert len(values) == 6
    assert all(len(v) == 43 for v in values)
    assert Flow.decode(flow.encode()) == flow


async def test_a_good_callback_is_the_person_of_the_access_token(
    provider: CodeProvider, clock: Clock
) -> None:
    signing, flow = await begun(provider, clock)
    provider.answer = (200, tokens(flow))
    person = await signing.finish(flow, flow.state, "code-1", CALLBACK, people())
    assert isinstance(person, Person)
    assert (person.subject, sorted(person.roles), sorted(person.districts)) == (
        "a1b2c3",
        ["assessor"],
        ["oslo"],
    )
    assert provider.forms == [
        {
            "grant_type": "authorization_code",
            "code": "code-1",
            "redirect_uri": CALLBACK,
            "client_id": CLIENT,
            "code_verifier": flow.verifier,
        }
    ]


async def test_a_confidential_client_sends_its_secret(provider: CodeProvider, clock: Clock) -> None:
    signing, flow = await begun(provider, clock, client_secret="s3cret")
    provider.answer = (200, tokens(flow))
    await signing.finish(flow, flow.state, "code-1", CALLBACK, people())
    assert provider.forms[0]["client_secret"] == "s3cret"


async def test_a_callback_not_of_the_flow_is_refused_before_the_provider_is_asked(
    provider: CodeProvider, clock: Clock
) -> None:
    signing, flow = await begun(provider, clock)
    assert "not of the sign-in" in await refusal(signing, flow, state="x" * 43)
    assert "not of the sign-in" in await refusal(signing, flow, state="")
    with pytest.raises(SignInFailed, match="no code"):
        await signing.finish(flow, flow.state, None, CALLBACK, people())
    clock.now += FLOW_SECONDS + 1
    assert "too long" in await refusal(signing, flow)
    assert provider.forms == []


ID_TOKENS = {
    "another nonce": ({"nonce": "n" * 43}, "not of this sign-in"),
    "no nonce": ({"nonce": None}, "not of this sign-in"),
    "another audience (the access token as ID token)": (
        {"aud": "fsi-intake"},
        "not of this sign-in",
    ),
    "another issuer": ({"iss": "https://evil.test"}, "not of this sign-in"),
    "another person": ({"sub": "someone-else"}, "names another person"),
    "expired": ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
}


@pytest.mark.parametrize(("changes", "why"), ID_TOKENS.values(), ids=ID_TOKENS.keys())
async def test_an_id_token_not_of_this_sign_in_is_refused(
    provider: CodeProvider, clock: Clock, changes: dict[str, Any], why: str
) -> None:
    signing, flow = await begun(provider, clock)
    provider.answer = (200, tokens(flow, **changes))
    assert why in await refusal(signing, flow)


async def test_an_id_token_of_another_key_or_algorithm_is_refused(
    provider: CodeProvider, clock: Clock
) -> None:
    signing, flow = await begun(provider, clock)
    forged = {**tokens(flow), "id_token": signed(IMPOSTOR, aud=CLIENT, nonce=flow.nonce)}
    provider.answer = (200, forged)
    assert "signature does not hold" in await refusal(signing, flow)
    plain = tokens(flow)["id_token"].split(".")
    provider.answer = (200, {**tokens(flow), "id_token": "eyJhbGciOiJub25lIn0." + plain[1] + "."})
    assert "algorithm is not allowed" in await refusal(signing, flow)


async def test_the_providers_refusals_and_absence(provider: CodeProvider, clock: Clock) -> None:
    signing, flow = await begun(provider, clock)
    provider.answer = (400, {"error": "invalid_grant", "error_description": "code used: 'x'"})
    why = await refusal(signing, flow)
    assert why == "the identity provider refused the code (invalid_grant)"
    provider.answer = (200, {"access_token": signed()})
    assert "lacks a token" in await refusal(signing, flow)
    provider.answer = (200, {**tokens(flow), "access_token": signed(exp=int(time.time()) - 600)})
    assert await refusal(signing, flow) == "the access token was refused (expired)"
    provider.down = True
    with pytest.raises(ProviderUnavailable):
        await signing.finish(flow, flow.state, "code-1", CALLBACK, people())


@pytest.mark.parametrize("text", ["", "%%%", "W10", Flow("s", "n", "v", "admin", 0).encode()])
def test_a_flow_cookie_not_set_by_the_intake_is_refused(text: str) -> None:
    with pytest.raises(SignInFailed, match="not one this intake set"):
        Flow.decode(text)


async def test_configured_endpoints_need_no_discovery(clock: Clock) -> None:
    provider = CodeProvider()
    signing = sign_in(
        provider,
        clock,
        authorization_url="http://127.0.0.1:8080/fsi/authorize",
        token_url="http://oidc:8080/fsi/token",
    )
    url, _ = await signing.begin("ops", CALLBACK)
    assert url.startswith("http://127.0.0.1:8080/fsi/authorize?")
    assert provider.asked == []
    with pytest.raises(ValueError, match="FSI_OIDC_TOKEN_URL"):
        OidcSettings(issuer=ISSUER, token_url="oidc:8080/token")
