"""The session rules on a store in memory: lifetimes, sign-out, revocation, few writes."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from services.common import sessions
from services.common.sessions import Rules, SessionRecord, Sessions

START = dt.datetime(2025, 3, 30, 0, 30, tzinfo=dt.UTC)
RULES = Rules(absolute=dt.timedelta(hours=8), idle=dt.timedelta(minutes=30))


class MemoryStore:
    """The store protocol on a dict, counting writes."""

    def __init__(self) -> None:
        self.rows: dict[bytes, SessionRecord] = {}
        self.writes: list[str] = []

    async def create(self, record: SessionRecord) -> None:
        self.writes.append("create")
        self.rows[record.token_sha256] = record

    async def find(self, token_sha256: bytes) -> SessionRecord | None:
        return self.rows.get(token_sha256)

    async def touch(self, token_sha256: bytes, at: dt.datetime) -> None:
        self.writes.append("touch")
        row = self.rows[token_sha256]
        self.rows[token_sha256] = dataclasses.replace(row, last_seen_at=at)

    async def end(self, token_sha256: bytes, at: dt.datetime, reason: str) -> None:
        self.writes.append("end")
        row = self.rows.get(token_sha256)
        if row is not None and row.ended_at is None:
            self.rows[token_sha256] = dataclasses.replace(row, ended_at=at, end_reason=reason)

    async def purge(self, created_before: dt.datetime) -> None:
        self.rows = {k: r for k, r in self.rows.items() if r.created_at >= created_before}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def signed(store: MemoryStore, clock: Clock) -> Sessions:
    return Sessions(store, RULES, clock)


async def test_the_store_keeps_only_the_tokens_hash(signed: Sessions, store: MemoryStore) -> None:
    token = await signed.open("ops", "abcd")
    assert sessions.well_formed(token)
    ((digest, record),) = store.rows.items()
    assert digest == sessions.digest(token) != token.encode()
    assert (record.subject, record.credential) == ("ops", "abcd")
    assert token not in repr(record)


async def test_a_busy_session_ends_at_its_absolute_lifetime(signed: Sessions, clock: Clock) -> None:
    token = await signed.open("ops", "k")
    for _ in range(8 * 60 - 1):
        clock.advance(minutes=1)
        assert (await signed.resume(token)).record is not None, clock.now
    clock.advance(minutes=1)
    assert (await signed.resume(token)).refused == sessions.EXPIRED


async def test_an_idle_session_ends_and_use_keeps_one_alive(signed: Sessions, clock: Clock) -> None:
    token = await signed.open("ops", "k")
    clock.advance(minutes=29, seconds=59)
    assert (await signed.resume(token)).record is not None
    clock.advance(minutes=29, seconds=59)
    assert (await signed.resume(token)).record is not None
    clock.advance(minutes=30)
    assert (await signed.resume(token)).refused == sessions.IDLE


async def test_last_seen_is_written_at_most_once_a_minute(
    signed: Sessions, store: MemoryStore, clock: Clock
) -> None:
    token = await signed.open("ops", "k")
    for _ in range(60):  # the page polling every 5 s for five minutes
        clock.advance(seconds=5)
        assert (await signed.resume(token)).record is not None
    assert store.writes.count("touch") == 5


def test_a_short_idle_period_is_touched_often_enough() -> None:
    rules = Rules(absolute=dt.timedelta(hours=1), idle=dt.timedelta(seconds=40))
    assert rules.touch_interval == dt.timedelta(seconds=10)


async def test_signing_out_ends_the_session_for_good(signed: Sessions, clock: Clock) -> None:
    token = await signed.open("ops", "k")
    await signed.close(token)
    clock.advance(seconds=1)
    assert (await signed.resume(token)).refused == sessions.ENDED


async def test_a_refused_check_ends_the_session_for_good(
    signed: Sessions, store: MemoryStore
) -> None:
    token = await signed.open("ops", "k")
    assert (await signed.resume(token, lambda r: "not-operator")).refused == "not-operator"
    assert store.rows[sessions.digest(token)].end_reason == "not-operator"
    assert (await signed.resume(token, lambda r: None)).refused == sessions.ENDED


@pytest.mark.parametrize(
    "token", ["", "short", "A" * 42, "A" * 44, "A" * 42 + "=", "A" * 42 + "\x00", "Å" * 43]
)
async def test_a_token_of_another_shape_is_refused_unread(
    signed: Sessions, store: MemoryStore, token: str
) -> None:
    assert (await signed.resume(token)).refused == sessions.MALFORMED
    await signed.close(token)
    assert store.writes == []


async def test_a_well_formed_token_of_no_session_is_unknown(signed: Sessions) -> None:
    assert (await signed.resume("A" * 43)).refused == sessions.UNKNOWN


async def test_each_sign_in_clears_out_sessions_past_their_lifetime(
    signed: Sessions, store: MemoryStore, clock: Clock
) -> None:
    old = await signed.open("ops", "k")
    clock.advance(hours=8, seconds=1)
    new = await signed.open("ops", "k")
    assert set(store.rows) == {sessions.digest(new)}
    assert (await signed.resume(old)).refused == sessions.UNKNOWN


def test_the_rules_say_why_a_record_does_not_hold() -> None:
    record = SessionRecord(b"x" * 32, "ops", "k", START, START)
    assert RULES.refusal(record, START) is None
    assert RULES.refusal(record, START + dt.timedelta(minutes=30)) == sessions.IDLE
    busy = dataclasses.replace(record, last_seen_at=START + dt.timedelta(hours=7, minutes=59))
    assert RULES.refusal(busy, START + dt.timedelta(hours=8)) == sessions.EXPIRED
    ended = dataclasses.replace(record, ended_at=START, end_reason=sessions.SIGNED_OUT)
    assert RULES.refusal(ended, START) == sessions.ENDED


async def test_what_a_sign_in_granted_is_kept_with_its_session(
    signed: Sessions, store: MemoryStore
) -> None:
    grants = {"roles": ["prosecutor"], "districts": ["oslo"], "national": False}
    token = await signed.open("pia", "https://idp.test", grants)
    held = await signed.resume(token)
    assert held.record is not None
    assert (held.record.subject, held.record.credential, held.record.grants) == (
        "pia",
        "https://idp.test",
        grants,
    )
    # A session opened without grants (a key's) has none.
    bare = await signed.resume(await signed.open("ops", "k"))
    assert bare.record is not None
    assert bare.record.grants is None
