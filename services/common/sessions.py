"""Sign-in sessions that end: an absolute and an idle lifetime, sign-out, and revocation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

# A session token is 32 random bytes, URL-safe base64 without padding: 43 characters.
# Anything else is refused before it is hashed or looked up.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")

# Why a session was refused or ended: fixed words, safe to log and to store. A caller's
# revocation check adds its own (a removed client, a changed key).
MALFORMED = "malformed"
UNKNOWN = "unknown"
ENDED = "ended"
EXPIRED = "expired"
IDLE = "idle"
SIGNED_OUT = "signed-out"


def digest(token: str) -> bytes:
    """What the store keeps of a token: its SHA-256. A random 256-bit token needs no salt or
    slow hash, and a reader of the store cannot turn a row back into a cookie."""
    return hashlib.sha256(token.encode("ascii")).digest()


def well_formed(token: str) -> bool:
    """True when the text has the shape of a token this module hands out."""
    return _TOKEN.fullmatch(token) is not None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One sign-in as stored: who (subject), with what (credential, e.g. the issuer that
    signed a person in, so another provider ends it), when it began, was last seen and
    ended, and what the sign-in granted (`grants`: a person's roles and districts as the
    provider's token said, a JSON object; None for a session that has none)."""

    token_sha256: bytes
    subject: str
    credential: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    ended_at: dt.datetime | None = None
    end_reason: str | None = None
    grants: dict[str, Any] | None = None


class SessionStore(Protocol):
    """Where sessions live (PostgreSQL in the services, a dict in the unit tests)."""

    async def create(self, record: SessionRecord) -> None: ...

    async def find(self, token_sha256: bytes) -> SessionRecord | None: ...

    async def touch(self, token_sha256: bytes, at: dt.datetime) -> None: ...

    async def end(self, token_sha256: bytes, at: dt.datetime, reason: str) -> None: ...

    async def purge(self, created_before: dt.datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class Rules:
    """How long a session lasts: `absolute` from its start however busy, `idle` from its
    last request. Last-seen is written at most every `touch_every` (and at least four times
    per idle period), so a page that polls every few seconds does not write every poll; a
    session may therefore end up to that much before its idle period is fully over."""

    absolute: dt.timedelta
    idle: dt.timedelta
    touch_every: dt.timedelta = dt.timedelta(minutes=1)

    @property
    def touch_interval(self) -> dt.timedelta:
        return min(self.touch_every, self.idle / 4)

    def refusal(self, record: SessionRecord, now: dt.datetime) -> str | None:
        """Why this session no longer holds at `now`, or None when it does."""
        if record.ended_at is not None:
            return ENDED
        if now >= record.created_at + self.absolute:
            return EXPIRED
        if now >= record.last_seen_at + self.idle:
            return IDLE
        return None

    def due_touch(self, record: SessionRecord, now: dt.datetime) -> bool:
        """True when last-seen is old enough to be written again."""
        return now - record.last_seen_at >= self.touch_interval


@dataclass(frozen=True, slots=True)
class Outcome:
    """A session that holds (`record`), or why none does (`refused`, a fixed word)."""

    record: SessionRecord | None = None
    refused: str | None = None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# A caller's check of a session that holds by time: None when it still may, else why not.
Check = Callable[[SessionRecord], str | None]


@dataclass(slots=True)
class Sessions:
    """Opening, resuming and closing sessions by the rules; the token is the caller's to
    carry (a cookie) and is never stored."""

    store: SessionStore
    rules: Rules
    clock: Callable[[], dt.datetime] = _utc_now

    async def open(
        self, subject: str, credential: str, grants: dict[str, Any] | None = None
    ) -> str:
        """A new session's token. Sessions past their absolute lifetime can never hold
        again, so each sign-in clears them out."""
        now = self.clock()
        await self.store.purge(now - self.rules.absolute)
        token = secrets.token_urlsafe(32)
        record = SessionRecord(digest(token), subject, credential, now, now, grants=grants)
        await self.store.create(record)
        return token

    async def resume(self, token: str, check: Check | None = None) -> Outcome:
        """The session of this token if it holds now; one that `check` refuses is ended for
        good (a client given back its role later does not revive it)."""
        if not well_formed(token):
            return Outcome(refused=MALFORMED)
        now = self.clock()
        record = await self.store.find(digest(token))
        if record is None:
            return Outcome(refused=UNKNOWN)
        why = self.rules.refusal(record, now)
        if why is None and check is not None:
            why = check(record)
            if why is not None:
                await self.store.end(record.token_sha256, now, why)
        if why is not None:
            return Outcome(refused=why)
        if self.rules.due_touch(record, now):
            await self.store.touch(record.token_sha256, now)
            record = dataclasses.replace(record, last_seen_at=now)
        return Outcome(record=record)

    async def close(self, token: str) -> None:
        """End the session of this token (sign-out); nothing for a token of no session."""
        if well_formed(token):
            await self.store.end(digest(token), self.clock(), SIGNED_OUT)
