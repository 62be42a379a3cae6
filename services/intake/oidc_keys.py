"""The identity provider's signing keys (its JWKS), fetched over HTTP and cached."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key

from services.common import logging as fsi_logging
from services.intake.people import ProviderUnavailable, TokenRefused
from services.intake.settings import OidcSettings

log = fsi_logging.get_logger("oidc")

# Keys are fetched again for a key id not held at most this often, so a flood of tokens
# naming made-up key ids cannot make the intake hammer the provider.
REFRESH_SECONDS = 30.0
# Without any keys (the provider has not answered yet) a fetch is tried again this often.
RETRY_SECONDS = 5.0
HTTP_TIMEOUT = httpx.Timeout(5.0)
# The key type each algorithm family signs with (RFC 7518 §6.1; RFC 8037; RFC 9864).
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def key_type_for(alg: str) -> str:
    """The JWK `kty` an algorithm's signature is made with: `RS256` → `RSA`."""
    return _KEY_TYPES.get(alg[:2], "")


class ProviderKeys:
    """The public keys an access token may be signed with.

    `key(kid, alg)` answers the key of that id (or, for a token naming no id, the only key
    of that algorithm's type); a key id not held makes one fetch of the JWKS, at most once
    per `refresh_seconds` (the provider rotated its keys). The JWKS address is
    FSI_OIDC_JWKS_URL, or the `jwks_uri` of the issuer's discovery document.
    Raises `TokenRefused("unknown signing key")` for a key id the provider does not have,
    `ProviderUnavailable` when the provider cannot be asked (no keys held yet, or the
    fetch a token needed failed)."""

    def __init__(
        self,
        settings: OidcSettings,
        client: httpx.AsyncClient,
        *,
        refresh_seconds: float = REFRESH_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._client = client
        self._refresh_seconds = refresh_seconds
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._keys: list[Key] | None = None
        self._jwks_url = settings.jwks_url
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None, alg: str) -> Key:
        """The key to check a signature of `alg` made with key `kid` (see the class)."""
        found = self._pick(kid, alg)
        if found is not None:
            return found
        async with self._lock:
            # Another request may have fetched the keys while this one waited.
            found = self._pick(kid, alg)
            if found is not None:
                return found
            if self._wait() == 0:
                await self._fetch()
                found = self._pick(kid, alg)
                if found is not None:
                    return found
        if self._keys is None:
            raise ProviderUnavailable(max(1, math.ceil(self._wait())))
        raise TokenRefused("unknown signing key")

    def _wait(self) -> float:
        """Seconds until the next fetch may be tried (0: now)."""
        if self._attempted_at is None:
            return 0.0
        interval = self._retry_seconds if self._keys is None else self._refresh_seconds
        return max(0.0, self._attempted_at + interval - self._clock())

    def _pick(self, kid: str | None, alg: str) -> Key | None:
        if self._keys is None:
            return None
        kty = key_type_for(alg)
        usable = [
            key
            for key in self._keys
            if key.key_type == kty
            and key.get("use") in (None, "sig")
            and key.get("alg") in (None, alg)
        ]
        if kid is None:
            # A provider with one key may leave the key id out (RFC 7515 §4.1.4).
            return usable[0] if len(usable) == 1 else None
        return next((key for key in usable if key.kid == kid), None)

    async def _fetch(self) -> None:
        self._attempted_at = self._clock()
        try:
            url = self._jwks_url or await self._discover()
            document = await self._get_json(url)
            keys = _public_keys(document)
        except _ProviderAnswer as answer:
            log.warning("identity provider keys not fetched", problem=answer.what)
            raise ProviderUnavailable(math.ceil(self._retry_seconds)) from None
        self._jwks_url = url
        self._keys = keys
        log.info("identity provider keys fetched", keys=len(keys))

    async def _discover(self) -> str:
        issuer = self._settings.issuer
        document = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        # OpenID Connect Discovery §4.3: the document must name the issuer it was asked of.
        if document.get("issuer") != issuer:
            raise _ProviderAnswer("discovery document of another issuer")
        url = document.get("jwks_uri")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise _ProviderAnswer("discovery document without jwks_uri")
        return url

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            answer = await self._client.get(url, timeout=HTTP_TIMEOUT)
        except httpx.HTTPError as exc:
            raise _ProviderAnswer(f"{type(exc).__name__} from {url}") from None
        if answer.status_code != 200:
            raise _ProviderAnswer(f"HTTP {answer.status_code} from {url}")
        try:
            document = answer.json()
        except ValueError:
            raise _ProviderAnswer(f"no JSON from {url}") from None
        if not isinstance(document, dict):
            raise _ProviderAnswer(f"no JSON object from {url}")
        return document


class _ProviderAnswer(Exception):
    """The provider did not answer as it should; `what` says how (no token text)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _public_keys(document: dict[str, Any]) -> list[Key]:
    """The usable public keys of a JWKS; keys this intake cannot read are left out."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise _ProviderAnswer("JWKS without keys")
    keys = []
    for entry in entries:
        if not isinstance(entry, dict) or "d" in entry or entry.get("kty") == "oct":
            # Never a secret (symmetric) key or a private one, whatever the provider sends.
            continue
        try:
            keys.append(JWKRegistry.import_key(entry))
        except (JoseError, ValueError, TypeError):
            continue
    if not keys:
        raise _ProviderAnswer("JWKS without a usable key")
    return keys
