"""SQL of the router's hot path: decisions (append-only; a stored one is reused) and the stored
reports deliveries are checked against."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec

from schemas.decision import Decision

_INSERT_MANY = """
INSERT INTO decisions (report_id, district, unit, priority, amqp_priority, deadline_at,
                       deadline_basis, deadline_rule, matched_rules, triage_reasons,
                       ruleset_version, decided_at, decision)
SELECT x.report_id, x.district, x.unit, x.priority, x.amqp_priority, x.deadline_at,
       x.deadline_basis, x.deadline_rule, x.matched_rules, x.triage_reasons,
       x.ruleset_version, x.decided_at, x.decision
FROM jsonb_to_recordset($1::jsonb) AS x(
    report_id uuid, district text, unit text, priority text, amqp_priority smallint,
    deadline_at timestamptz, deadline_basis text, deadline_rule text, matched_rules text[],
    triage_reasons text[], ruleset_version text, decided_at timestamptz, decision jsonb)
ON CONFLICT (report_id) DO NOTHING
RETURNING report_id
"""


class DecisionRow(msgspec.Struct):
    """One decision as the `decisions` table holds it (and `_INSERT_MANY` reads it)."""

    report_id: uuid.UUID
    district: str | None
    unit: str
    priority: str
    amqp_priority: int
    deadline_at: dt.datetime | None
    deadline_basis: str | None
    deadline_rule: str | None
    matched_rules: list[str]
    triage_reasons: list[str]
    ruleset_version: str
    decided_at: dt.datetime
    decision: Decision


COLUMNS = DecisionRow.__struct_fields__


def decision_row(decision: Decision) -> DecisionRow:
    """The table's columns of one decision."""
    deadline = decision.deadline
    return DecisionRow(
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
        decision,
    )


Stored = Decision | BaseException
# Errors of one row, not of the database: an unknown report, a value the table refuses.
ROW_ERRORS = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)


async def store_decisions(pool: asyncpg.Pool, decisions: list[Decision]) -> list[Stored]:
    """Store many decisions in one statement; for each, the decision that stands (its own,
    or one stored before), or the error that kept it out."""
    firsts = {d.report_id: d for d in reversed(decisions)}  # the first of each id wins
    try:
        inserted = {
            r["report_id"]
            for r in await pool.fetch(
                _INSERT_MANY, _rows.encode([decision_row(d) for d in firsts.values()]).decode()
            )
        }
    except ROW_ERRORS as exc:
        if len(firsts) == 1:
            return [exc] * len(decisions)
        # One unknown report (or one row the table refuses) spoils the statement: the rest
        # go one by one.
        return [(await store_decisions(pool, [d]))[0] for d in decisions]
    earlier = [i for i in firsts if i not in inserted]
    stored = await stored_decisions(pool, earlier) if earlier else {}
    standing = {i: firsts[i] if i in inserted else stored[i] for i in firsts}
    return [standing[d.report_id] for d in decisions]


_rows = msgspec.json.Encoder()


class StoredReport(msgspec.Struct):
    """What the router checks a delivery against: the SHA-256 of the message the intake
    published for the report, or, for a report stored before the intake kept one (its copy
    of the message since cleared), the stored report as JSON text; and the decision that
    stands for it, if one does."""

    message_sha256: bytes | None
    report: str | None
    decision: Decision | None


# One statement per batch, each report by its key: the stored report itself is read only
# where no digest is kept (a report of before 0008 whose message copy was cleared).
_STORED = """
SELECT r.id, r.message_sha256,
       CASE WHEN r.message_sha256 IS NULL THEN r.report::text END AS report,
       d.decision::text AS decision
FROM reports r
LEFT JOIN decisions d ON d.report_id = r.id
WHERE r.id = ANY($1::uuid[])
"""


async def stored_reports(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> dict[uuid.UUID, StoredReport]:
    """The stored reports of these ids, by id (none for an id no report has)."""
    return {
        r["id"]: StoredReport(
            None if r["message_sha256"] is None else bytes(r["message_sha256"]),
            r["report"],
            None if r["decision"] is None else _decision.decode(r["decision"]),
        )
        for r in await pool.fetch(_STORED, ids)
    }


_decision = msgspec.json.Decoder(Decision)


async def stored_decisions(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> dict[uuid.UUID, Decision]:
    """The decisions already taken for these reports, by report id (none for the rest)."""
    rows = await pool.fetch(
        "SELECT report_id, decision::text FROM decisions WHERE report_id = ANY($1)", ids
    )
    return {r["report_id"]: msgspec.json.decode(r["decision"], type=Decision) for r in rows}
