"""What the operations monitor reads from PostgreSQL: the unit catalogue and rule set the
router last loaded, each unit's routed cases and exact deadline figures, the outbox, the
latest and most urgent cases (ids and decisions only, never a report's content), and the
people's work list (counts and ages by district)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec

from schemas.catalogue import Catalogue
from services.common import db
from services.common.caseevents.figures import UnitDeadlineFigures, deadline_figures
from services.intake.ops_views import (
    CaseView,
    OutboxView,
    RulesetView,
    Service,
    WorklistDistrict,
    WorklistView,
)
from services.intake.settings import OpsSettings

_LOADED = """
SELECT version, at, rules, router, catalogue::text FROM rule_loads
WHERE outcome = 'loaded' ORDER BY at DESC, id DESC LIMIT 1
"""
_REFUSED = "SELECT at, error FROM rule_loads WHERE outcome = 'refused' ORDER BY at DESC LIMIT 1"
# Routed means a queue confirmed the case (case_deliveries); `waiting` counts the cases a
# missing queue returned (waiting_cases), which the router publishes again. The deadline
# figures are exact, from the cases the units hold (caseevents.figures).
_UNITS = """
SELECT unit, sum(routed)::int AS routed_last_hour, sum(waiting)::int AS waiting
FROM (
    SELECT unit, 1 AS routed, 0 AS waiting
    FROM case_deliveries WHERE confirmed_at > now() - interval '1 hour'
    UNION ALL
    SELECT unit, 0, 1 FROM waiting_cases WHERE delivered_at IS NULL
) AS figures
GROUP BY unit
"""
# The latest cases a queue confirmed, with when it did: routed is the confirmation, not the
# decision (a case may wait for a missing queue between the two).
_LATEST = """
SELECT d.report_id, c.unit, d.priority, d.decided_at, d.deadline_at, d.matched_rules,
       false AS waiting, c.confirmed_at
FROM case_deliveries c JOIN decisions d USING (report_id)
ORDER BY c.confirmed_at DESC LIMIT $1
"""
# The open deadlines nearest their end: those of cases the units hold, not met and not
# returned (a rules' case is keyed by its report, a person's by the act that decided it),
# and those of cases decided but waiting for a missing queue (their deadline runs all the
# same).
_URGENT = """
SELECT * FROM (
    (SELECT u.report_id, u.unit, u.priority,
            coalesce(d.decided_at, p.decided_at, u.routed_at) AS decided_at,
            u.due_at AS deadline_at, coalesce(d.matched_rules, '{}') AS matched_rules,
            false AS waiting, u.routed_at AS confirmed_at
     FROM unit_cases u
     LEFT JOIN decisions d ON d.report_id = u.case_id
     LEFT JOIN person_decisions p ON p.id = u.case_id
     WHERE u.due_at > now() AND u.met_at IS NULL AND u.returned_at IS NULL
     ORDER BY u.due_at LIMIT $1)
    UNION ALL
    (SELECT d.report_id, d.unit, d.priority, d.decided_at, d.deadline_at, d.matched_rules,
            true, NULL
     FROM waiting_cases w JOIN decisions d USING (report_id)
     WHERE w.delivered_at IS NULL AND d.deadline_at > now()
     ORDER BY d.deadline_at LIMIT $1)
) AS urgent
ORDER BY deadline_at LIMIT $1
"""
_OUTBOX = """
SELECT count(*) FILTER (WHERE set_aside_at IS NULL) AS pending,
       coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE set_aside_at IS NULL)),
                0)::float8 AS oldest,
       count(*) FILTER (WHERE set_aside_at IS NOT NULL) AS set_aside
FROM outbox WHERE published_at IS NULL
"""

# The work list in one statement: waiting reports by district and reason with the longest
# wait; proposals waiting for a prosecutor and downgrades not reviewed, by district. Each
# part is served by a partial index (work_items_waiting_district, work_items_proposed,
# person_acts_downgrades), so the cost follows what waits, not the history.
_WORKLIST = """
SELECT 'waiting' AS figure, district, reason AS kind, count(*)::int AS n,
       extract(epoch FROM now() - min(waiting_since))::float8 AS oldest
FROM work_items WHERE state = 'waiting'
GROUP BY district, reason
UNION ALL
SELECT 'pending', w.district,
       CASE a.kind WHEN 'closure_proposed' THEN 'closure' ELSE 'transfer' END,
       count(*)::int, NULL
FROM work_items w JOIN person_acts a ON a.id = w.pending_act
WHERE w.state = 'proposed'
GROUP BY 2, 3
UNION ALL
SELECT 'pending', w.district, 'downgrade', count(*)::int, NULL
FROM person_acts a JOIN work_items w ON w.report_id = a.report_id
WHERE a.kind IN ('corrected', 'routed') AND a.details->>'downgrade' = 'true'
  AND NOT EXISTS (
      SELECT FROM person_acts r
      WHERE r.report_id = a.report_id AND r.kind = 'downgrade_reviewed'
        AND r.details->>'act' = a.id::text)
GROUP BY 2
"""
PENDING_KINDS = ("closure", "transfer", "downgrade")


def worklist_view(rows: Iterable[Mapping[str, Any]]) -> WorklistView:
    """The work list of `_WORKLIST`'s rows (figure, district, kind, n, oldest): districts
    in name order, the reports of no district last; every pending kind present (0 if none)."""
    by_district: dict[str | None, WorklistDistrict] = {}
    for row in rows:
        district = row["district"]
        entry = by_district.setdefault(district, WorklistDistrict(district))
        if row["figure"] == "waiting":
            entry.waiting += row["n"]
            entry.by_reason[row["kind"]] = entry.by_reason.get(row["kind"], 0) + row["n"]
            oldest = round(max(0.0, row["oldest"]), 3)
            entry.oldest_seconds = max(entry.oldest_seconds or 0.0, oldest)
        else:
            entry.pending[row["kind"]] = entry.pending.get(row["kind"], 0) + row["n"]
    districts = sorted(by_district.values(), key=lambda d: (d.district is None, d.district or ""))
    ages = [d.oldest_seconds for d in districts if d.oldest_seconds is not None]
    return WorklistView(
        waiting=sum(d.waiting for d in districts),
        oldest_seconds=max(ages) if ages else None,
        pending={k: sum(d.pending.get(k, 0) for d in districts) for k in PENDING_KINDS},
        districts=districts,
    )


@dataclass
class DatabaseRead:
    """One reading: the catalogue and rule set (None before a router loaded one), each
    unit's routed and waiting cases by unit id (`_UNITS` columns), the units' deadline
    figures (None until read), the outbox, the latest and urgent cases, the work list."""

    catalogue: Catalogue | None = None
    ruleset: RulesetView | None = None
    units: dict[str, asyncpg.Record] = field(default_factory=dict)
    deadlines: list[UnitDeadlineFigures] | None = None
    outbox: OutboxView | None = None
    latest: list[CaseView] = field(default_factory=list)
    urgent: list[CaseView] = field(default_factory=list)
    worklist: WorklistView | None = None


def _case(row: asyncpg.Record) -> CaseView:
    return CaseView(
        str(row["report_id"]),
        row["unit"],
        row["priority"],
        row["decided_at"],
        row["deadline_at"],
        list(row["matched_rules"]),
        row["waiting"],
        row["confirmed_at"],
    )


def cause(exc: BaseException) -> str:
    # The class name says enough and never carries data from the request or the row.
    return type(exc).__name__


async def read_database(
    pool: asyncpg.Pool, settings: OpsSettings, now: dt.datetime
) -> tuple[DatabaseRead, Service]:
    """What PostgreSQL holds for the overview, and whether it could be read (within
    `settings.read_timeout_seconds`; a failure is named by its class only)."""
    read = DatabaseRead()
    try:
        async with asyncio.timeout(settings.read_timeout_seconds):
            async with pool.acquire() as conn:
                await _read_rules(conn, read)
                read.units = {r["unit"]: r for r in await conn.fetch(_UNITS)}
                after = dt.timedelta(seconds=settings.not_received_after_seconds)
                read.deadlines = await deadline_figures(conn, now, after)
                row = await conn.fetchrow(_OUTBOX)
                read.outbox = OutboxView(row["pending"], round(row["oldest"], 3), row["set_aside"])
                count = settings.cases_shown
                read.latest = [_case(r) for r in await conn.fetch(_LATEST, count)]
                read.urgent = [_case(r) for r in await conn.fetch(_URGENT, count)]
                read.worklist = worklist_view(await conn.fetch(_WORKLIST))
    except (asyncpg.PostgresError, *db.CONNECTION_ERRORS) as exc:
        return read, Service(False, now, cause(exc))
    return read, Service(True, now)


async def _read_rules(conn: asyncpg.Connection, read: DatabaseRead) -> None:
    loaded = await conn.fetchrow(_LOADED)
    if loaded is None:
        return
    read.catalogue = msgspec.json.decode(loaded["catalogue"], type=Catalogue)
    read.ruleset = RulesetView(loaded["version"], loaded["at"], loaded["rules"], loaded["router"])
    refused = await conn.fetchrow(_REFUSED)
    if refused is not None and refused["at"] > loaded["at"]:
        read.ruleset.refused_at = refused["at"]
        read.ruleset.refused_error = refused["error"]
