"""People's sign-in on the pages (`/triage`, `/ops`): OpenID Connect's authorization code flow
with PKCE (RFC 7636, S256) against FSI_OIDC_ISSUER as the client FSI_OIDC_CLIENT_ID.

`begin` makes a flow (random `state`, `nonce` and `code_verifier`) and the provider's
authorization URL; the flow travels in a short-lived HttpOnly cookie (`Flow.encode`) that
only the page's own callback receives. `finish` checks the callback's `state` against it,
exchanges the code (with the verifier) at the token endpoint, verifies the access token
with the app's `PeopleVerifier` (the person) and the ID token (signature, issuer, audience
= the client, expiry, `nonce`, the same subject). PKCE's challenge is two lines of hashlib
and base64 (Authlib is not a dependency; joserfc has no PKCE helper).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwt import JWTClaimsRegistry

from services.intake import b64json
from services.intake.oidc import MAX_TOKEN_CHARS
from services.intake.oidc_keys import HTTP_TIMEOUT, ProviderKeys
from services.intake.people import PeopleVerifier, Person, ProviderUnavailable, TokenRefused
from services.intake.settings import SIGNATURE_ALGORITHMS, OidcSettings

# A sign-in must come back from the provider within this (the flow cookie's lifetime).
FLOW_SECONDS = 600
# The pages a person signs in to; each has its callback (`/<page>/callback`).
PAGES = ("triage", "ops")


class SignInFailed(Exception):
    """A sign-in that cannot complete; `why` is a fixed phrase (no token or code text), safe
    to log and to show on the page."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def challenge(verifier: str) -> str:
    """The S256 code challenge of a verifier: base64url(SHA-256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Flow(msgspec.Struct, frozen=True, array_like=True):
    """One sign-in under way: `state` (ties the callback to this browser), `nonce` (ties
    the ID token to this flow), `verifier` (PKCE), the page it is for, when it began (epoch
    seconds)."""

    state: str
    nonce: str
    verifier: str
    page: str
    started: float

    @classmethod
    def new(cls, page: str, now: float) -> Flow:
        """A flow with fresh random values (256 bits each; a 43-character verifier)."""
        return cls(
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            page,
            now,
        )

    def encode(self) -> str:
        """The cookie's value: base64url of the JSON array."""
        return b64json.dumps(self)

    @classmethod
    def decode(cls, text: str) -> Flow:
        """The flow of a cookie's value; `SignInFailed` when it is not one."""
        try:
            flow = b64json.loads(text, cls)
        except ValueError:
            raise SignInFailed("the sign-in's cookie is not one this intake set") from None
        if flow.page not in PAGES:
            raise SignInFailed("the sign-in's cookie is not one this intake set")
        return flow


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the provider authorizes and hands out tokens (its discovery document)."""

    authorization: str
    token: str


class PageSignIn:
    """The authorization code flow for the settings' provider and client. `clock` is epoch
    seconds. Close it with `aclose()`."""

    def __init__(
        self,
        settings: OidcSettings,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Any = time.time,
    ) -> None:
        self.settings = settings
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        self._keys = ProviderKeys(settings, self._client)
        self._endpoints: Endpoints | None = None
        self._clock = clock

    async def endpoints(self) -> Endpoints:
        """The provider's endpoints: FSI_OIDC_AUTHORIZATION_URL and FSI_OIDC_TOKEN_URL when
        both are set, else read once from its discovery document (`ProviderUnavailable`
        when it cannot be read)."""
        if self._endpoints is None and self.settings.authorization_url and self.settings.token_url:
            self._endpoints = Endpoints(self.settings.authorization_url, self.settings.token_url)
        if self._endpoints is None:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                answer = await self._client.get(url, timeout=HTTP_TIMEOUT)
                document = answer.json() if answer.status_code == 200 else None
            except (httpx.HTTPError, ValueError):
                document = None
            if not isinstance(document, dict) or document.get("issuer") != self.settings.issuer:
                raise ProviderUnavailable(5)
            where = (document.get("authorization_endpoint"), document.get("token_endpoint"))
            if not all(isinstance(u, str) and u.startswith(("https://", "http://")) for u in where):
                raise ProviderUnavailable(5)
            self._endpoints = Endpoints(str(where[0]), str(where[1]))
        return self._endpoints

    async def begin(self, page: str, redirect_uri: str) -> tuple[str, Flow]:
        """The provider's authorization URL for a new flow, and the flow (for its cookie)."""
        flow = Flow.new(page, self._clock())
        query = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": challenge(flow.verifier),
            "code_challenge_method": "S256",
        }
        return f"{(await self.endpoints()).authorization}?{urlencode(query)}", flow

    async def finish(
        self,
        flow: Flow,
        state: str | None,
        code: str | None,
        redirect_uri: str,
        people: PeopleVerifier,
    ) -> Person:
        """The person the provider signed in for this flow (`SignInFailed` naming the check
        that failed; `ProviderUnavailable` when the provider cannot be asked)."""
        if self._clock() - flow.started > FLOW_SECONDS:
            raise SignInFailed("the sign-in took too long; start again")
        if not state or not hmac.compare_digest(state.encode(), flow.state.encode()):
            raise SignInFailed("the answer is not of the sign-in this browser began")
        if not code:
            raise SignInFailed("the identity provider sent no code")
        tokens = await self._exchange(code, redirect_uri, flow.verifier)
        access, id_token = tokens.get("access_token"), tokens.get("id_token")
        if not isinstance(access, str) or not isinstance(id_token, str):
            raise SignInFailed("the identity provider's answer lacks a token")
        try:
            person = await people.person(access)
        except TokenRefused as refused:
            raise SignInFailed(f"the access token was refused ({refused.why})") from None
        claims = await self._id_claims(id_token)
        try:
            self._id_registry(flow.nonce).validate(claims)
        except ExpiredTokenError:
            raise SignInFailed("the ID token has expired") from None
        except JoseError:
            raise SignInFailed("the ID token is not of this sign-in") from None
        if claims.get("sub") != person.subject:
            raise SignInFailed("the ID token names another person")
        return person

    async def _exchange(self, code: str, redirect_uri: str, verifier: str) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.settings.client_id,
            "code_verifier": verifier,
        }
        if self.settings.client_secret:
            form["client_secret"] = self.settings.client_secret
        try:
            answer = await self._client.post(
                (await self.endpoints()).token, data=form, timeout=HTTP_TIMEOUT
            )
        except httpx.HTTPError:
            raise ProviderUnavailable(5) from None
        if answer.status_code >= 500:
            raise ProviderUnavailable(5)
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code != 200 or not isinstance(body, dict):
            # The provider's error code (`invalid_grant`: a code used twice, or a verifier
            # that does not match); never its description, which may quote what was sent.
            error = body.get("error") if isinstance(body, dict) else None
            named = error if isinstance(error, str) and error.isidentifier() else "no answer"
            raise SignInFailed(f"the identity provider refused the code ({named})")
        return body

    async def _id_claims(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise SignInFailed("the ID token is not readable")
        try:
            header = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, TypeError):
            raise SignInFailed("the ID token is not readable") from None
        alg, kid = header.get("alg"), header.get("kid")
        allowed = [a for a in self.settings.allowed_algorithms if a in SIGNATURE_ALGORITHMS]
        if alg not in allowed or (kid is not None and not isinstance(kid, str)):
            raise SignInFailed("the ID token's algorithm is not allowed")
        try:
            key = await self._keys.key(kid, str(alg))
            claims: dict[str, Any] = jwt.decode(token, key, algorithms=[str(alg)]).claims
        except TokenRefused:
            raise SignInFailed("the ID token is signed by an unknown key") from None
        except JoseError:
            raise SignInFailed("the ID token's signature does not hold") from None
        return claims

    def _id_registry(self, nonce: str) -> JWTClaimsRegistry:
        return JWTClaimsRegistry(
            leeway=self.settings.leeway_seconds,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )

    async def aclose(self) -> None:
        """Close the HTTP client (when this made it)."""
        if self._own_client:
            await self._client.aclose()
