"""Decisions stored in batches: one per report, the first stands, unknown reports refused."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from schemas.decision import Decision, Priority
from services.routing import outcome_store, store
from tests.support.held_cases import a_report

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield created
    await created.close()


def decision(report_id: uuid.UUID, unit: str, minutes: int = 0) -> Decision:
    return Decision(
        report_id=report_id,
        unit=unit,
        priority=Priority.HIGH,
        amqp_priority=7,
        ruleset_version="sha256:test",
        decided_at=NOW + dt.timedelta(minutes=minutes),
        district="Oslo",
        matched_rules=["a", "b"],
    )


async def test_a_batch_keeps_the_first_decision_of_each_report(pool: asyncpg.Pool) -> None:
    old, new = await a_report(pool), await a_report(pool)
    earlier = decision(old, "oslo.a")
    (stood,) = await store.store_decisions(pool, [earlier])
    assert stood == earlier
    batch = [decision(old, "oslo.b", 1), decision(new, "oslo.c", 1), decision(new, "oslo.d", 2)]
    results = await store.store_decisions(pool, batch)
    # The stored one stands for `old`; within the batch the first for `new` wins.
    assert results == [earlier, batch[1], batch[1]]
    rows = await pool.fetch("SELECT report_id, unit, matched_rules FROM decisions")
    assert {(r["report_id"], r["unit"]) for r in rows} == {(old, "oslo.a"), (new, "oslo.c")}
    assert all(r["matched_rules"] == ["a", "b"] for r in rows)


async def test_an_unknown_report_fails_alone(pool: asyncpg.Pool) -> None:
    known = await a_report(pool)
    batch = [decision(uuid.uuid4(), "oslo.a"), decision(known, "oslo.b")]
    unknown, stored = await store.store_decisions(pool, batch)
    assert isinstance(unknown, asyncpg.ForeignKeyViolationError)
    assert stored == batch[1]


async def test_stored_decisions_are_found_by_report(pool: asyncpg.Pool) -> None:
    decided, undecided = await a_report(pool), await a_report(pool)
    (stood,) = await store.store_decisions(pool, [decision(decided, "oslo.a")])
    found = await store.stored_decisions(pool, [decided, undecided, uuid.uuid4()])
    assert found == {decided: stood}


# --- confirmed deliveries and waiting cases ---------------------------------------------------


async def _waits(pool: asyncpg.Pool, report_id: uuid.UUID) -> tuple[int, float]:
    row = await pool.fetchrow(
        "SELECT returns, extract(epoch FROM next_attempt_at - last_returned_at)::float8 AS wait"
        " FROM waiting_cases WHERE report_id = $1",
        report_id,
    )
    return row["returns"], round(row["wait"], 3)


async def test_a_returned_case_waits_longer_each_time_up_to_the_cap(pool: asyncpg.Pool) -> None:
    report_id = await a_report(pool)
    waits = []
    for _ in range(7):
        # The same case returned twice in one batch counts once.
        await outcome_store.record_outcomes(pool, [], [(report_id, "oslo.a")] * 2, 2.0, 60.0)
        waits.append(await _waits(pool, report_id))
    # 2 s after the first return, doubling, at most 60 s.
    assert waits == [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 32.0), (6, 60.0), (7, 60.0)]


async def test_a_confirmed_case_is_recorded_once_and_ends_its_wait(pool: asyncpg.Pool) -> None:
    report_id = await a_report(pool)
    await outcome_store.record_outcomes(pool, [], [(report_id, "oslo.a")], 2.0, 60.0)
    for _ in range(2):  # delivered again (a redelivery): still one row, the first
        await outcome_store.record_outcomes(pool, [(report_id, "oslo.a")] * 2, [], 2.0, 60.0)
    rows = await pool.fetch("SELECT unit FROM case_deliveries WHERE report_id = $1", report_id)
    assert [r["unit"] for r in rows] == ["oslo.a"]
    assert await pool.fetchval(
        "SELECT delivered_at IS NOT NULL FROM waiting_cases WHERE report_id = $1", report_id
    )
    # Returned afterwards (its queue deleted since): it is where it should be; it does not wait.
    assert await outcome_store.record_outcomes(pool, [], [(report_id, "oslo.a")], 2.0, 60.0) == {}
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("DELETE FROM case_deliveries")
