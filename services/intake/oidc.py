"""People's access tokens checked against the OpenID Connect provider (joserfc): a person.

joserfc rather than Authlib: Authlib's own JOSE module is superseded by joserfc (the same
author's typed, RFC-by-RFC rewrite), and the intake needs only JWS, JWK sets and JWT claims.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwt import JWTClaimsRegistry

from services.intake.oidc_keys import REFRESH_SECONDS, RETRY_SECONDS, ProviderKeys
from services.intake.people import Person, PersonRole, TokenRefused
from services.intake.settings import SIGNATURE_ALGORITHMS, OidcSettings

# Longer than any access token a provider issues for a person; more is not read at all.
MAX_TOKEN_CHARS = 16_384
_ROLES = {role.value: role for role in PersonRole}
# The refusal of a claim that is missing or wrong, by claim, in the order they are named.
_MISSING = {"sub": "no subject", "exp": "no expiry", "iss": "wrong issuer", "aud": "wrong audience"}
_WRONG = {
    "iss": "wrong issuer",
    "aud": "wrong audience",
    "sub": "no subject",
    "nbf": "not yet valid",
    "iat": "not yet valid",
}


class OidcVerifier:
    """A `PeopleVerifier` for the provider of `OidcSettings` (FSI_OIDC_*).

    `person(token)` checks, in order: the token is a compact JWS (`malformed`), its `alg`
    is allowed (`algorithm not allowed`: FSI_OIDC_ALGORITHMS, never `none` or HMAC,
    whatever the header says), the provider has its key (`unknown signing key`), the
    signature (`wrong signature`), then the claims: `iss` is the issuer (`wrong issuer`),
    `aud` names the audience (`wrong audience`), `exp` is to come (`expired`, `no expiry`),
    `nbf`/`iat` are not in the future (`not yet valid`), all with FSI_OIDC_LEEWAY_SECONDS,
    and `sub` is there (`no subject`). Each refusal is a `TokenRefused` with that fixed
    phrase; `ProviderUnavailable` when the keys cannot be had. Close it with `aclose()`."""

    def __init__(
        self,
        settings: OidcSettings,
        *,
        client: httpx.AsyncClient | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        self._keys = ProviderKeys(
            settings,
            self._client,
            refresh_seconds=refresh_seconds,
            retry_seconds=retry_seconds,
            clock=clock,
        )
        # Settings validation refused anything else; kept here too, so no setting can ever
        # let `none` or an HMAC algorithm through.
        self._algorithms = tuple(
            alg for alg in settings.allowed_algorithms if alg in SIGNATURE_ALGORITHMS
        )
        self._claims = JWTClaimsRegistry(
            leeway=settings.leeway_seconds,
            iss={"essential": True, "value": settings.issuer},
            aud={"essential": True, "value": settings.audience},
            sub={"essential": True},
            exp={"essential": True},
        )

    async def person(self, token: str) -> Person:
        """The person a valid access token is of (see the class for the refusals)."""
        header = _header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise TokenRefused("algorithm not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenRefused("malformed")
        key = await self._keys.key(kid, alg)
        try:
            claims = jwt.decode(token, key, algorithms=[alg]).claims
        except BadSignatureError:
            raise TokenRefused("wrong signature") from None
        except JoseError:
            raise TokenRefused("malformed") from None
        self._check(claims)
        return self.person_of(claims)

    def _check(self, claims: dict[str, Any]) -> None:
        try:
            self._claims.validate(claims)
        except ExpiredTokenError:
            raise TokenRefused("expired") from None
        except MissingClaimError as missing:
            names = missing.claim.split(",")
            why = next((_MISSING[name] for name in _MISSING if name in names), "malformed")
            raise TokenRefused(why) from None
        except ClaimError as wrong:
            raise TokenRefused(_WRONG.get(wrong.claim, "malformed")) from None

    def person_of(self, claims: dict[str, Any]) -> Person:
        """The person of checked claims: roles (only the known ones) from the roles claim,
        districts from the districts claim (`national_district` among them: national), the
        name from the name claim or `preferred_username`. Each claim may be a list of
        strings or one space-separated string."""
        settings = self._settings
        roles = {
            _ROLES[value.lower()]
            for value in _words(claim(claims, settings.roles_claim))
            if value.lower() in _ROLES
        }
        districts = set(_words(claim(claims, settings.districts_claim)))
        national = settings.national_district in districts
        districts.discard(settings.national_district)
        name = claim(claims, settings.name_claim)
        if not isinstance(name, str) or not name.strip():
            name = claims.get("preferred_username")
        return Person(
            subject=claims["sub"],
            roles=frozenset(roles),
            districts=frozenset(districts),
            national=national,
            name=name.strip() if isinstance(name, str) and name.strip() else None,
        )

    async def aclose(self) -> None:
        """Close the HTTP client (when the verifier made it)."""
        if self._own_client:
            await self._client.aclose()


def _header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, unverified (to pick the key and check `alg`)."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
        raise TokenRefused("malformed")
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, TypeError):
        raise TokenRefused("malformed") from None
    if not isinstance(header, dict):
        raise TokenRefused("malformed")
    return header


def claim(claims: dict[str, Any], name: str) -> Any:
    """The claim `name`; a dotted name not found whole reads nested objects
    (`attributes.districts`); None when absent."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _words(value: Any) -> list[str]:
    """A claim's strings: a list's string items, or a string's space-separated words."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and item]
    return []
