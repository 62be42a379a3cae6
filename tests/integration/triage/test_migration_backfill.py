"""Migration 0011's backfill against the real PostgreSQL: reports the rules sent to triage
before it, whose triage case a queue confirmed, join the work list under their district's
slug (as the unit catalogue names it), and nothing else does."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from services.common import migrate

ROOT = Path(__file__).parents[3]
# The last migration before the work list existed.
BEFORE_WORK_LIST = 10
RANK = {"critical": 3, "high": 2, "normal": 1, "low": 0}  # Priority.rank, as 0011 says


def catalogue_districts() -> dict[str, str]:
    """District name → slug, as deploy/routing/units.yaml lists the twelve districts."""
    units = yaml.safe_load((ROOT / "deploy" / "routing" / "units.yaml").read_text("utf-8"))
    return {name: entry["slug"] for name, entry in units["districts"].items()}


@pytest.fixture
async def before_0011(empty_database: str) -> AsyncIterator[asyncpg.Connection]:
    """A database migrated up to 0010 only, as a deployment was before the work list."""
    conn = await asyncpg.connect(empty_database)
    older = [m for m in migrate.discover() if m.version <= BEFORE_WORK_LIST]
    assert [m.version for m in older] == list(range(1, BEFORE_WORK_LIST + 1))
    await migrate.apply(conn, older)
    yield conn
    await conn.close()


async def decided(
    conn: asyncpg.Connection,
    *,
    district: str | None,
    unit: str = "triage",
    confirmed: bool = True,
    issues: list[dict[str, Any]] | None = None,
    priority: str = "normal",
    deadline: dt.datetime | None = None,
) -> uuid.UUID:
    """A report the rules decided as the router stored it before 0011: the report, its
    decision (district by its catalogue name), and the queue's confirmation when given."""
    report_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO reports (id, client_id, source, external_id, source_format, content_hash,"
        " raw_body, raw_content_type, report, quality_issues, received_at)"
        " VALUES ($1, 'alpha', 'alpha-src', $2, 'canonical', $3, '\\x7b7d', 'application/json',"
        " '{}'::jsonb, $4::jsonb, now() - interval '2 hours')",
        report_id,
        f"ext-{report_id.hex[:12]}",
        uuid.uuid4().bytes * 2,
        json.dumps(issues or []),
    )
    await conn.execute(
        "INSERT INTO decisions (report_id, district, unit, priority, amqp_priority, deadline_at,"
        " ruleset_version, decided_at, decision)"
        " VALUES ($1, $2, $3, $4, 5, $5, 'v-old', now() - interval '1 hour', '{}'::jsonb)",
        report_id,
        district,
        unit,
        priority,
        deadline,
    )
    if confirmed:
        await conn.execute(
            "INSERT INTO case_deliveries (report_id, unit, confirmed_at)"
            " VALUES ($1, $2, now() - interval '50 minutes')",
            report_id,
            unit,
        )
    return report_id


async def test_reports_triaged_before_0011_join_the_work_list_by_their_districts_slug(
    before_0011: asyncpg.Connection,
) -> None:
    conn = before_0011
    districts = catalogue_districts()
    assert districts["Sør-Øst"] == "sor-ost"  # the case the brief names, from the catalogue
    deadline = dt.datetime(2027, 1, 4, 12, 0, tzinfo=dt.UTC)
    by_district = {
        name: await decided(conn, district=name, priority="high", deadline=deadline)
        for name in districts
    }
    nowhere = await decided(conn, district=None)
    with_issues = await decided(
        conn,
        district="Oslo",
        priority="low",
        issues=[{"code": "unknown-offence", "path": "$.offences[0].code", "message": "x"}],
    )
    not_confirmed = await decided(conn, district="Vest", confirmed=False)
    routed = await decided(conn, district="Oslo", unit="oslo.felles-etterforskning")

    applied = await migrate.apply(conn)
    assert applied[0] == BEFORE_WORK_LIST + 1

    rows = {
        r["report_id"]: r
        for r in await conn.fetch(
            "SELECT w.*, c.confirmed_at, r.received_at AS report_received_at"
            " FROM work_items w JOIN case_deliveries c ON c.report_id = w.report_id"
            " JOIN reports r ON r.id = w.report_id"
        )
    }
    assert set(rows) == {*by_district.values(), nowhere, with_issues}
    for name, report_id in by_district.items():
        row = rows[report_id]
        assert row["district"] == districts[name], name
        assert (row["reason"], row["detail"]) == ("rule", None), name
        assert (row["priority"], row["priority_rank"]) == ("high", RANK["high"])
        assert row["deadline_at"] == deadline
    assert (rows[nowhere]["district"], rows[nowhere]["reason"]) == (None, "no_district")
    assert (rows[with_issues]["district"], rows[with_issues]["reason"]) == (
        "oslo",
        "quality_issues",
    )
    assert (rows[with_issues]["priority"], rows[with_issues]["priority_rank"]) == ("low", 0)
    for row in rows.values():
        # Waiting since the triage queue confirmed it, unclaimed, as the router would add it.
        assert row["waiting_since"] == row["confirmed_at"]
        assert row["received_at"] == row["report_received_at"]
        assert (row["state"], row["version"], row["source"]) == ("waiting", 1, "alpha-src")
        assert (row["claimed_by"], row["claim_token"]) == (None, None)
    assert not_confirmed not in rows
    assert routed not in rows
