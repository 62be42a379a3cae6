"""The people verifier's keys (services/intake/oidc_keys.py): fetched once (discovery, then
the JWKS), again only for an unknown key id and at most every 30 s, never a symmetric or
private key; a provider that cannot be asked is a 503 with Retry-After, not a 401."""

from __future__ import annotations

import httpx
import pytest

from services.intake.oidc import OidcVerifier
from services.intake.people import ProviderUnavailable
from services.intake.settings import OidcSettings
from tests.unit.intake.oidc_tokens import (
    CERTS,
    DISCOVERY,
    ISSUER,
    KEY,
    ROTATED,
    Clock,
    Provider,
    refused,
    signed,
    verifier,
    with_kid,
)


async def test_the_keys_are_fetched_once_and_again_for_an_unknown_kid() -> None:
    provider = Provider(KEY)
    clock = Clock()
    verify = verifier(provider, clock=clock)
    await verify.person(signed())
    await verify.person(signed())
    assert provider.asked == [DISCOVERY, CERTS]
    # The provider rotates its key. Within 30 s of the last fetch a token of the new key is
    # refused without asking; after them it makes one fetch, and is good.
    provider.keys.append(ROTATED)
    clock.now += 1
    assert await refused(verify, signed(ROTATED)) == "unknown signing key"
    assert provider.asked == [DISCOVERY, CERTS]
    clock.now += 29
    assert (await verify.person(signed(ROTATED))).subject == "a1b2c3"
    assert provider.asked == [DISCOVERY, CERTS, CERTS]
    # Made-up key ids within 30 s of that fetch: refused without asking the provider.
    for n in range(50):
        assert await refused(verify, with_kid(f"made-up-{n}")) == "unknown signing key"
    clock.now += 29
    assert await refused(verify, with_kid("made-up")) == "unknown signing key"
    assert provider.asked == [DISCOVERY, CERTS, CERTS]
    # 30 s after the fetch one more is allowed (discovery's jwks_uri is kept).
    clock.now += 1
    assert await refused(verify, with_kid("made-up")) == "unknown signing key"
    assert provider.asked == [DISCOVERY, CERTS, CERTS, CERTS]


async def test_the_jwks_url_setting_skips_discovery() -> None:
    provider = Provider(KEY)
    settings = OidcSettings(
        issuer=ISSUER, jwks_url="https://idp.test/realms/politiet/protocol/certs"
    )
    await verifier(provider, settings).person(signed())
    assert provider.asked == [CERTS]


async def test_a_token_without_kid_takes_the_only_key_and_no_other() -> None:
    assert (await verifier(Provider(KEY)).person(with_kid(None))).subject == "a1b2c3"
    # With two keys of the type, a token naming none is not guessed at.
    assert await refused(verifier(Provider(KEY, ROTATED)), with_kid(None)) == (
        "unknown signing key"
    )


async def test_a_provider_that_cannot_be_asked_is_unavailable_not_a_refusal() -> None:
    provider = Provider(KEY)
    provider.down = True
    clock = Clock()
    verify = verifier(provider, clock=clock)
    with pytest.raises(ProviderUnavailable) as caught:
        await verify.person(signed())
    assert caught.value.retry_after == 5
    # Asked again within 5 s: not fetched again, told how long to wait.
    clock.now += 2
    with pytest.raises(ProviderUnavailable) as caught:
        await verify.person(signed())
    assert caught.value.retry_after == 3
    assert provider.asked == [DISCOVERY]
    # Back: the next try after the wait fetches and the token is good.
    provider.down = False
    clock.now += 3
    assert (await verify.person(signed())).subject == "a1b2c3"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500),
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json=["keys"]),
        httpx.Response(200, json={"keys": []}),
        # Only a symmetric key and a private one: neither is ever used.
        httpx.Response(200, json={"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k1"}]}),
        httpx.Response(200, json={"keys": [KEY.as_dict(private=True)]}),
    ],
)
async def test_a_jwks_answer_without_a_usable_public_key_is_unavailable(
    answer: httpx.Response,
) -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda _: answer))
    settings = OidcSettings(issuer=ISSUER, jwks_url=ISSUER + "/certs")
    with pytest.raises(ProviderUnavailable):
        await OidcVerifier(settings, client=client).person(signed())


async def test_a_discovery_document_of_another_issuer_is_not_trusted() -> None:
    provider = Provider(KEY, issuer="https://evil.test")
    with pytest.raises(ProviderUnavailable):
        await verifier(provider).person(signed())
    assert provider.asked == [DISCOVERY]
