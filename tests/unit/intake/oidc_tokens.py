"""Keys, tokens and a provider made by the tests of the people verifier (test_oidc*.py).

The provider is an httpx transport answering discovery and the JWKS from these keys: the
verifier's own HTTP code, parsing and caching run as they do against a real provider
(tests/integration/intake/test_people_oidc.py runs them against nanoidp)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from services.intake.oidc import OidcVerifier
from services.intake.people import TokenRefused
from services.intake.settings import OidcSettings

ISSUER = "https://idp.test/realms/politiet"
AUDIENCE = "fsi-intake"
SETTINGS = OidcSettings(issuer=ISSUER, audience=AUDIENCE)
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
ROTATED = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig", "alg": "RS256"})
# Another key under the same id: a signature of it is a wrong one.
IMPOSTOR = RSAKey.generate_key(2048, parameters={"kid": "k1"})


class Provider:
    """Discovery and the JWKS over an httpx transport, counting the requests by path."""

    def __init__(self, *keys: RSAKey | ECKey, issuer: str = ISSUER) -> None:
        self.keys = list(keys)
        self.issuer = issuer
        self.down = False
        self.asked: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request.url.path)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(
                200, json={"issuer": self.issuer, "jwks_uri": ISSUER + "/protocol/certs"}
            )
        if request.url.path.endswith("/protocol/certs"):
            return httpx.Response(200, json={"keys": [k.as_dict(private=False) for k in self.keys]})
        return httpx.Response(404)

    def jwks_fetches(self) -> int:
        return sum(path.endswith("/certs") for path in self.asked)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier(
    provider: Provider, settings: OidcSettings = SETTINGS, clock: Clock | None = None
) -> OidcVerifier:
    client = httpx.AsyncClient(transport=httpx.MockTransport(provider.handle))
    return OidcVerifier(settings, client=client, clock=clock or Clock())


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "a1b2c3",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "roles": ["assessor"],
        "districts": ["oslo"],
        "name": "Anne Assessor",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(key: RSAKey | ECKey = KEY, alg: str = "RS256", **changes: Any) -> str:
    header: dict[str, Any] = {"alg": alg}
    if key.kid:
        header["kid"] = key.kid
    return jwt.encode(header, claims(**changes), key, algorithms=[alg])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_built(header: dict[str, Any], body: dict[str, Any], signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(body).encode())
    return head + "." + b64(signature)


async def refused(verify: OidcVerifier, token: str) -> str:
    with pytest.raises(TokenRefused) as caught:
        await verify.person(token)
    return caught.value.why


def with_kid(kid: str | None) -> str:
    """A token signed by KEY whose header names `kid` (or no key id)."""
    header = {"alg": "RS256"} if kid is None else {"alg": "RS256", "kid": kid}
    return jwt.encode(header, claims(), KEY, algorithms=["RS256"])


DISCOVERY = "/realms/politiet/.well-known/openid-configuration"
CERTS = "/realms/politiet/protocol/certs"
