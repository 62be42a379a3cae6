"""SQL of the router: one decision per report, append-only; a stored one is reused."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from schemas.decision import Decision

_INSERT = """
INSERT INTO decisions (report_id, district, unit, priority, amqp_priority, deadline_at,
                       deadline_basis, deadline_rule, matched_rules, triage_reasons,
                       ruleset_version, decided_at, decision)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)
ON CONFLICT (report_id) DO NOTHING
RETURNING report_id
"""


async def stored_decision(pool: asyncpg.Pool, report_id: uuid.UUID) -> Decision | None:
    """The decision already taken for a report, if any."""
    text = await pool.fetchval(
        "SELECT decision::text FROM decisions WHERE report_id = $1", report_id
    )
    return None if text is None else msgspec.json.decode(text, type=Decision)


async def store_decision(pool: asyncpg.Pool, decision: Decision) -> Decision:
    """Store the decision; when another router stored one first, that one is the decision."""
    deadline = decision.deadline
    inserted = await pool.fetchval(
        _INSERT,
        decision.report_id,
        decision.district,
        decision.unit,
        decision.priority.value,
        decision.amqp_priority,
        deadline.due_at if deadline else None,
        deadline.basis if deadline else None,
        deadline.rule_id if deadline else None,
        decision.matched_rules,
        decision.triage_reasons,
        decision.ruleset_version,
        decision.decided_at,
        msgspec.json.encode(decision).decode(),
    )
    if inserted is not None:
        return decision
    winner = await stored_decision(pool, decision.report_id)
    assert winner is not None, "a conflicting decision row must exist"
    return winner
