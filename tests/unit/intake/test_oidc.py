"""The people verifier (services/intake/oidc.py): each check of a token refuses what it must
with its fixed phrase, `none` and HMAC never pass, and the claims make the person (roles,
districts, national, name, claim names as settings)."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from services.common.settings import SettingsError, load
from services.intake.oidc import claim
from services.intake.people import PersonRole
from services.intake.settings import IntakeSettings, OidcSettings
from tests.unit.intake.oidc_tokens import (
    AUDIENCE,
    IMPOSTOR,
    ISSUER,
    KEY,
    Provider,
    b64,
    claims,
    hand_built,
    refused,
    signed,
    verifier,
)


async def test_a_good_token_is_a_person_with_roles_districts_and_name() -> None:
    person = await verifier(Provider(KEY)).person(signed())
    assert person.subject == "a1b2c3"
    assert person.roles == {PersonRole.ASSESSOR}
    assert person.districts == {"oslo"}
    assert not person.national
    assert person.name == "Anne Assessor"


async def test_an_expired_token_is_refused_beyond_the_leeway_only() -> None:
    verify = verifier(Provider(KEY))
    now = int(time.time())
    # The default leeway is 30 s: expired 10 s ago still passes, 120 s ago does not.
    assert (await verify.person(signed(exp=now - 10))).subject == "a1b2c3"
    assert await refused(verify, signed(exp=now - 120, iat=now - 600, nbf=now - 600)) == "expired"


async def test_a_token_not_yet_valid_or_issued_in_the_future_is_refused() -> None:
    verify = verifier(Provider(KEY))
    now = int(time.time())
    assert await refused(verify, signed(nbf=now + 600)) == "not yet valid"
    assert await refused(verify, signed(iat=now + 600, nbf=now)) == "not yet valid"


async def test_a_signature_of_another_key_is_refused() -> None:
    assert await refused(verifier(Provider(KEY)), signed(IMPOSTOR)) == "wrong signature"


async def test_a_signature_changed_after_signing_is_refused() -> None:
    token = signed()
    head, _, signature = token.split(".")
    other = signed(sub="someone-else").split(".")[1]
    assert await refused(verifier(Provider(KEY)), f"{head}.{other}.{signature}") == (
        "wrong signature"
    )


async def test_a_token_of_another_issuer_or_audience_is_refused() -> None:
    verify = verifier(Provider(KEY))
    assert await refused(verify, signed(iss="https://idp.test/realms/other")) == "wrong issuer"
    assert await refused(verify, signed(aud="fsi-workbench")) == "wrong audience"
    assert await refused(verify, signed(aud=["account", "other"])) == "wrong audience"
    # An audience list naming the intake is the intake's.
    assert (await verify.person(signed(aud=["account", AUDIENCE]))).subject == "a1b2c3"


async def test_alg_none_is_refused_without_asking_for_keys() -> None:
    provider = Provider(KEY)
    token = hand_built({"alg": "none", "kid": "k1"}, claims())
    assert await refused(verifier(provider), token) == "algorithm not allowed"
    assert provider.asked == []


async def test_hs256_signed_with_the_public_key_as_secret_is_refused() -> None:
    # Key confusion: a verifier that took the header's alg would check this HMAC with the
    # RSA public key's bytes as the secret, and anyone can read that key from the JWKS.
    secret = KEY.as_pem(private=False)
    header = {"alg": "HS256", "kid": "k1"}
    unsigned = hand_built(header, claims()).rsplit(".", 1)[0]
    signature = hmac.new(secret, unsigned.encode(), hashlib.sha256).digest()
    token = unsigned + "." + b64(signature)
    assert await refused(verifier(Provider(KEY)), token) == "algorithm not allowed"


async def test_an_algorithm_allowed_by_the_settings_only_is_taken() -> None:
    ec = ECKey.generate_key("P-256", parameters={"kid": "e1"})
    provider = Provider(KEY, ec)
    only_rs = verifier(provider)
    assert await refused(only_rs, signed(ec, "ES256")) == "algorithm not allowed"
    both = verifier(provider, OidcSettings(issuer=ISSUER, algorithms="RS256,ES256"))
    assert (await both.person(signed(ec, "ES256"))).subject == "a1b2c3"
    # An RS256 header naming the EC key's id: no RSA key of that id.
    token = jwt.encode({"alg": "RS256", "kid": "e1"}, claims(), KEY, algorithms=["RS256"])
    assert await refused(both, token) == "unknown signing key"


@pytest.mark.parametrize("algorithms", ["none", "HS256", "RS256,HS512", " ", "rs256"])
def test_the_settings_refuse_none_hmac_and_unknown_algorithms(algorithms: str) -> None:
    with pytest.raises(SettingsError, match="invalid setting FSI_OIDC_ALGORITHMS"):
        load(IntakeSettings, {"FSI_OIDC_ALGORITHMS": algorithms})


def test_the_settings_refuse_an_issuer_that_is_no_url() -> None:
    with pytest.raises(SettingsError, match="invalid setting FSI_OIDC_ISSUER"):
        load(IntakeSettings, {"FSI_OIDC_ISSUER": "idp.test"})


async def test_a_token_without_subject_or_expiry_is_refused() -> None:
    verify = verifier(Provider(KEY))
    assert await refused(verify, signed(sub=None)) == "no subject"
    assert await refused(verify, signed(sub="")) == "no subject"
    assert await refused(verify, signed(exp=None)) == "no expiry"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-token",
        "a.b.c",
        "a.b.c.d.e",
        hand_built({"alg": "RS256"}, {})[:-1] + "!",
        "x" * 20_000,
        "ø.ø.ø",
    ],
)
async def test_a_malformed_token_is_refused(token: str) -> None:
    assert await refused(verifier(Provider(KEY)), token) == "malformed"


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (["assessor"], {PersonRole.ASSESSOR}),
        (["prosecutor", "operator"], {PersonRole.PROSECUTOR, PersonRole.OPERATOR}),
        ("assessor offline_access", {PersonRole.ASSESSOR}),
        (["Prosecutor", "admin", 7, None], {PersonRole.PROSECUTOR}),
        ("submitter", set()),
        (42, set()),
        (None, set()),
    ],
)
async def test_roles_come_from_a_list_or_a_string_and_only_known_ones(
    roles: Any, expected: set[PersonRole]
) -> None:
    person = await verifier(Provider(KEY)).person(signed(roles=roles))
    assert person.roles == expected


@pytest.mark.parametrize(
    ("districts", "expected", "national"),
    [
        (["oslo", "vest"], {"oslo", "vest"}, False),
        ("oslo vest", {"oslo", "vest"}, False),
        (["national"], set(), True),
        (["oslo", "national"], {"oslo"}, True),
        (None, set(), False),
        ({"oslo": True}, set(), False),
    ],
)
async def test_districts_and_the_national_value(
    districts: Any, expected: set[str], national: bool
) -> None:
    person = await verifier(Provider(KEY)).person(signed(districts=districts))
    assert person.districts == expected
    assert person.national is national


async def test_claim_names_are_settings_and_dotted_names_read_nested_claims() -> None:
    settings = OidcSettings(
        issuer=ISSUER,
        roles_claim="realm_access.roles",
        districts_claim="attributes.districts",
        name_claim="attributes.name",
        national_district="alle",
    )
    token = signed(
        roles=None,
        districts=["vest"],
        name=None,
        realm_access={"roles": ["prosecutor"]},
        attributes={"districts": ["alle"], "name": "Nina National"},
    )
    person = await verifier(Provider(KEY), settings).person(token)
    # The top-level `districts` claim is not the one named: only the nested one counts.
    assert person.roles == {PersonRole.PROSECUTOR}
    assert person.districts == frozenset()
    assert person.national
    assert person.name == "Nina National"


def test_a_claim_named_with_a_dot_is_read_whole_first() -> None:
    found = {"https://fsi.test/roles": ["assessor"], "a": {"b": 1}}
    assert claim(found, "https://fsi.test/roles") == ["assessor"]
    assert claim(found, "a.b") == 1
    assert claim(found, "a.c") is None
    assert claim(found, "a.b.c") is None


async def test_the_name_falls_back_to_preferred_username() -> None:
    verify = verifier(Provider(KEY))
    assert (await verify.person(signed(name=None, preferred_username="anne"))).name == "anne"
    assert (await verify.person(signed(name="  ", preferred_username=None))).name is None
