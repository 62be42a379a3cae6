"""SQL of the router: decisions (append-only; a stored one is reused) and rule set loads."""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from schemas.decision import Decision
from services.routing.rules import RuleSet

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


class UnitEntry(msgspec.Struct):
    unit: str
    section: str
    name: str


class DistrictEntry(msgspec.Struct):
    name: str
    slug: str
    default: str
    units: list[UnitEntry]


def catalogue_json(ruleset: RuleSet) -> str:
    """The unit catalogue as the operations page reads it."""
    catalogue = ruleset.catalogue
    districts = [
        DistrictEntry(
            d.name,
            d.slug,
            d.unit(d.default),
            [UnitEntry(d.unit(s), s, catalogue.section_names[s]) for s in d.sections],
        )
        for d in catalogue.districts.values()
    ]
    return msgspec.json.encode({"districts": districts}).decode()


async def record_load(pool: asyncpg.Pool, router: str, ruleset: RuleSet) -> None:
    """Note the rule set now in use by this router."""
    await pool.execute(
        "INSERT INTO rule_loads (router, outcome, version, rules, catalogue) "
        "VALUES ($1, 'loaded', $2, $3, $4::jsonb)",
        router,
        ruleset.version,
        len(ruleset.rules),
        catalogue_json(ruleset),
    )


async def record_refusal(pool: asyncpg.Pool, router: str, error: str) -> None:
    """Note a rules file this router refused (the error names file, line and rule)."""
    await pool.execute(
        "INSERT INTO rule_loads (router, outcome, error) VALUES ($1, 'refused', $2)",
        router,
        error[:1000],
    )
