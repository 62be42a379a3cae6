"""Held cases written with SQL as the database's owner, as the router writes them: a report,
the rules' or a person's decision for a unit, and the unit queue's confirmation, whose
trigger (migration 0015) makes the held case with the decision's priority and deadline."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

# The events that meet a custody deadline: brought before a court, or released before
# (straffeprosessloven § 183).
CUSTODY = ("brought_before_court", "released")


async def a_report(
    db: asyncpg.Connection | asyncpg.Pool, received_at: dt.datetime | None = None
) -> uuid.UUID:
    """An empty canonical report, received at `received_at` (now when not given); its id."""
    report_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO reports (id, client_id, source, external_id, source_format, content_hash,"
        " raw_body, raw_content_type, report, received_at) VALUES ($1, 'c', 'politiet.no', $2,"
        " 'canonical', '\\x00', '\\x00', 'application/json', '{}', $3)",
        report_id,
        report_id.hex,
        received_at or dt.datetime.now(dt.UTC),
    )
    return report_id


def deadline(
    due_at: dt.datetime, met_by: Sequence[str] = CUSTODY, moment: str = "arrest"
) -> dict[str, Any]:
    """A decision's deadline as the rules write it; custody's unless told otherwise."""
    return {
        "due_at": due_at.isoformat(),
        "basis": "straffeprosessloven § 183",
        "rule_id": "custody",
        "met_by": list(met_by),
        "moment": moment,
    }


async def decided_by_rules(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    unit: str,
    *,
    district: str | None = "Oslo",
    priority: str = "high",
    due: dict[str, Any] | None = None,
    decided_at: dt.datetime | None = None,
    confirmed_at: dt.datetime | None = None,
) -> None:
    """The rules' decision on the report for `unit` of `district` (the catalogue's name, as the
    router stores it) with the deadline `due`, and when `confirmed_at` is given, the unit
    queue's confirmation at that time (which makes the held case)."""
    decided_at = decided_at or dt.datetime.now(dt.UTC)
    decision = {
        "report_id": str(report_id),
        "unit": unit,
        "district": district,
        "priority": priority,
        "amqp_priority": 5,  # what the queue orders by; no held case reads it
        "ruleset_version": "v-test",
        "decided_at": decided_at.isoformat(),
        "deadline": due,
    }
    await conn.execute(
        "INSERT INTO decisions (report_id, district, unit, priority, amqp_priority, deadline_at,"
        " ruleset_version, decided_at, decision) VALUES ($1, $2, $3, $4, 5, $5, 'v-test', $6,"
        " $7::jsonb)",
        report_id,
        district,
        unit,
        priority,
        None if due is None else dt.datetime.fromisoformat(due["due_at"]),
        decided_at,
        json.dumps(decision),
    )
    if confirmed_at is not None:
        await conn.execute(
            "INSERT INTO case_deliveries (report_id, unit, confirmed_at) VALUES ($1, $2, $3)",
            report_id,
            unit,
            confirmed_at,
        )


async def routed(
    conn: asyncpg.Connection,
    unit: str,
    routed_at: dt.datetime,
    *,
    district: str = "Oslo",
    priority: str = "high",
    due: dict[str, Any] | None = None,
) -> uuid.UUID:
    """A report received an hour before `routed_at`, which the rules decided for `unit` and the
    unit's queue confirmed at `routed_at`: a case `unit` holds; the report's id."""
    report_id = await a_report(conn, routed_at - dt.timedelta(hours=1))
    await decided_by_rules(
        conn,
        report_id,
        unit,
        district=district,
        priority=priority,
        due=due,
        decided_at=routed_at,
        confirmed_at=routed_at,
    )
    return report_id


async def decided_by_a_person(
    conn: asyncpg.Connection,
    act: uuid.UUID,
    report_id: uuid.UUID,
    unit: str,
    decision: dict[str, Any],
    *,
    decided_at: dt.datetime,
    confirmed_at: dt.datetime,
    version: int = 1,
    district: str | None = None,
) -> None:
    """anne's decision as assessor (her act `act`, already written) on the report's `version`
    for `unit` of `district` (a slug), stored as `decision`, and the unit queue's confirmation
    at `confirmed_at`, which makes the held case."""
    await conn.execute(
        "INSERT INTO person_decisions (id, report_id, version, unit, district, priority,"
        " amqp_priority, decided_by, decided_role, ruleset_version, decided_at, decision)"
        " VALUES ($1, $2, $3, $4, $5, 'normal', 5, 'anne', 'assessor', 'v-test', $6, $7::jsonb)",
        act,
        report_id,
        version,
        unit,
        district,
        decided_at,
        json.dumps(decision),
    )
    await conn.execute(
        "INSERT INTO person_case_deliveries (decision_id, report_id, unit, confirmed_at)"
        " VALUES ($1, $2, $3, $4)",
        act,
        report_id,
        unit,
        confirmed_at,
    )
