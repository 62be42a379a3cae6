"""API clients: keys kept as SHA-256 hashes in a YAML file, roles, allowed sources, formats and
units, and a per-client token-bucket rate limit.

Keys are random 256-bit tokens, not passwords, so one SHA-256 is the right hash: a slow
password hash would add nothing against guessing and cost every request milliseconds.
"""

from __future__ import annotations

import argparse
import enum
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from services.common import yamltext

ANY = "*"
# The SHA-256 of the keys deploy/clients.dev.yaml names in its comments (and the README):
# known to everyone, so accepted only with FSI_ENVIRONMENT=development.
DEVELOPMENT_KEYS = frozenset(
    {
        "cbdf25b0471a5fe896352287cb6f1cf9658eac59469f626a8e30d6a8760b2faf",
        "810ef14fe4f5d4663106e7c7109d6c99cecfcd0137b98b2dd3b202e268052b11",
        "abdb48099c1c60d2989cdeb04a3be053239556780846f1eb1fedf3b497bc7914",
    }
)
# A unit id as the catalogue writes one (schemas.caseevents.UnitId): `oslo.vold-og-seksual`.
UnitId = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=100)]


class Role(enum.StrEnum):
    """What a client may do."""

    SUBMITTER = "submitter"
    OPERATOR = "operator"
    # A unit's system: reports what happened to the cases of its `units` (case events).
    UNIT = "unit"


class RateOverride(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A client's own limit, instead of the default."""

    per_second: Annotated[float, Meta(gt=0)]
    burst: Annotated[int, Meta(ge=1)]


class Client(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One upstream system or operator, as written in the clients file."""

    id: str
    # Lower-case hex, as `hash_key` writes it: another spelling of a hash would never match a
    # key, and would slip past the check that refuses the development keys outside it.
    key_sha256: Annotated[str, Meta(pattern="^[0-9a-f]{64}$")]
    roles: frozenset[Role] = frozenset({Role.SUBMITTER})
    sources: frozenset[str] = frozenset()
    formats: frozenset[str] = frozenset({"canonical"})
    description: str = ""
    rate: RateOverride | None = None
    # The catalogue's unit ids a `unit` client speaks for (its case events name one of them).
    units: frozenset[UnitId] = frozenset()

    @property
    def is_operator(self) -> bool:
        return Role.OPERATOR in self.roles

    @property
    def is_unit(self) -> bool:
        return Role.UNIT in self.roles

    def may_act_for(self, unit: str) -> bool:
        """Whether this client may report case events of `unit` (a unit client's own)."""
        return Role.UNIT in self.roles and unit in self.units

    def may_submit(self, source: str) -> bool:
        return Role.SUBMITTER in self.roles and (ANY in self.sources or source in self.sources)

    def may_use_format(self, name: str) -> bool:
        return Role.SUBMITTER in self.roles and (ANY in self.formats or name in self.formats)


class ClientsFile(msgspec.Struct, forbid_unknown_fields=True):
    clients: list[Client]


class ClientsFileError(ValueError):
    """The clients file cannot be used."""


def _check_units(client: Client, place: int, origin: str) -> None:
    """A `unit` client names the units it speaks for, and only a `unit` client names any: a
    unit client without them could do nothing, and units on another client would read as a
    permission it does not have."""
    if client.is_unit and not client.units:
        raise ClientsFileError(
            f"{origin}: client {client.id} has the role `unit` but no `units` "
            f"(entry {place} of `clients`): list the unit ids it reports case events for"
        )
    if client.units and not client.is_unit:
        raise ClientsFileError(
            f"{origin}: client {client.id} lists `units` without the role `unit` "
            f"(entry {place} of `clients`)"
        )


def hash_key(key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Clients:
    """The clients, indexed by key hash."""

    by_hash: dict[str, Client]
    # Every source some client is allowed by name (not through `*`): the metric labels.
    named_sources: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        named = frozenset(s for c in self.by_hash.values() for s in c.sources if s != ANY)
        object.__setattr__(self, "named_sources", named)  # frozen: set once, here

    @classmethod
    def from_yaml(cls, text: str, origin: str = "clients file") -> Clients:
        # Strict YAML (services.common.yamltext): `id: no` is the text "no", a key hash of
        # digits stays text; decimal fractions are read for the rates.
        try:
            parsed = yamltext.convert(yamltext.load(text, origin, floats=True), ClientsFile, origin)
        except yamltext.YamlTextError as exc:
            raise ClientsFileError(str(exc)) from None
        by_hash: dict[str, tuple[int, Client]] = {}
        by_id: dict[str, int] = {}
        # Entries are named by their place (1st, 2nd, ...) in `clients`, as written.
        for place, client in enumerate(parsed.clients, start=1):
            # Two entries of one id would share its reports and its rate limit.
            if client.id in by_id:
                raise ClientsFileError(
                    f"{origin}: client id {client.id!r} is given twice "
                    f"(entries {by_id[client.id]} and {place} of `clients`)"
                )
            if client.key_sha256 in by_hash:
                first, other = by_hash[client.key_sha256]
                raise ClientsFileError(
                    f"{origin}: client {client.id} reuses the key of client {other.id} "
                    f"(entries {first} and {place} of `clients`)"
                )
            _check_units(client, place, origin)
            by_id[client.id] = place
            by_hash[client.key_sha256] = (place, client)
        return cls({digest: client for digest, (_, client) in by_hash.items()})

    @classmethod
    def from_file(cls, path: str | Path) -> Clients:
        try:
            text = yamltext.read_text(Path(path))
        except yamltext.YamlTextError as exc:
            raise ClientsFileError(str(exc)) from None
        return cls.from_yaml(text, str(path))

    def development_clients(self) -> list[str]:
        """The ids of the clients holding a development key (deploy/clients.dev.yaml), whose
        keys are published and must never be accepted in a deployment."""
        return sorted(c.id for digest, c in self.by_hash.items() if digest in DEVELOPMENT_KEYS)

    def by_id(self, client_id: str) -> Client | None:
        """The client of this id (for a session that names it), or None."""
        return next((c for c in self.by_hash.values() if c.id == client_id), None)

    def authenticate(self, authorization: str | None) -> Client | None:
        """The client whose key is in a `Bearer` header, or None."""
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        digest = hash_key(key.strip())
        client = self.by_hash.get(digest)
        # The dict lookup finds the candidate; the final comparison is constant-time.
        if client is None or not hmac.compare_digest(client.key_sha256, digest):
            return None
        return client


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass(slots=True)
class RateLimiter:
    """Token buckets per client: `rate` requests a second on average, `burst` at once."""

    rate: float
    burst: int
    clock: object = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, client: Client, cost: float = 1.0, *, paid: float = 0.0) -> float | None:
        """None when allowed (`cost` tokens taken); otherwise the seconds until the request
        would be. `paid`: the tokens the same request took before (a batch's first, when it
        came in), counted towards what it needs. A request needing more than the burst is
        allowed from a full bucket and leaves the bucket owing the rest: the client waits it
        off, so the average stays the rate whatever the request's size."""
        rate, burst = (
            (client.rate.per_second, client.rate.burst)
            if client.rate
            else (
                self.rate,
                self.burst,
            )
        )
        now = self.clock()  # type: ignore[operator]
        bucket = self._buckets.get(client.id)
        if bucket is None:
            bucket = self._buckets[client.id] = _Bucket(float(burst), now)
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        needed = min(cost + paid, float(burst))
        if bucket.tokens + paid >= needed:
            bucket.tokens -= cost
            return None
        # A retry pays `paid` again when it comes in: wait until the bucket holds it all.
        return (needed - bucket.tokens) / rate


def main() -> None:
    """`python -m services.intake.access new-key`: a fresh key and the hash to store."""
    parser = argparse.ArgumentParser(description="API key tool")
    parser.add_argument("command", choices=["new-key", "hash"])
    parser.add_argument("key", nargs="?")
    args = parser.parse_args()
    key = args.key if args.command == "hash" and args.key else secrets.token_urlsafe(32)
    print(f"key:        {key}\nkey_sha256: {hash_key(key)}")


if __name__ == "__main__":
    main()
