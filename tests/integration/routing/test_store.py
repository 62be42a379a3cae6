"""Decisions stored in batches: one per report, the first stands, unknown reports refused."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from schemas.decision import Decision, Priority
from services.routing import store

NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield created
    await created.close()


async def a_report(pool: asyncpg.Pool) -> uuid.UUID:
    report_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO reports (id, client_id, source, external_id, source_format, content_hash,"
        " raw_body, raw_content_type, report) VALUES ($1, 'c', 's', $2, 'canonical', '\\x00',"
        " '\\x00', 'application/json', '{}')",
        report_id,
        report_id.hex,
    )
    return report_id


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
