"""SQL of the router: decisions (append-only; a stored one is reused), confirmed deliveries,
cases waiting for a missing unit queue, dead-lettered reports, and rule set loads."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg
import msgspec

from schemas.catalogue import Catalogue, CatalogueUnit, District
from schemas.decision import Decision
from services.routing.rules import RuleSet

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


# One statement per batch, after the confirms: the confirmed cases recorded (once per report
# and unit, however often they were published), their waits ended; the returned cases put
# to wait, or their wait lengthened: `$5` seconds after the first return, doubling with each
# one after, at most `$6`. A case a queue confirmed before is not put to wait again (a
# redelivery returned after its queue went): it is where it should be.
_OUTCOMES = """
WITH delivered AS (
    INSERT INTO case_deliveries (report_id, unit)
    SELECT * FROM unnest($1::uuid[], $2::text[])
    ON CONFLICT DO NOTHING
), settled AS (
    UPDATE waiting_cases SET delivered_at = now()
    WHERE report_id = ANY($1::uuid[]) AND delivered_at IS NULL
), returned AS (
    INSERT INTO waiting_cases AS w (report_id, unit, next_attempt_at)
    SELECT r, u, now() + make_interval(secs => $5)
    FROM unnest($3::uuid[], $4::text[]) AS t(r, u)
    WHERE NOT EXISTS (SELECT 1 FROM case_deliveries c WHERE c.report_id = t.r)
    ON CONFLICT (report_id) DO UPDATE SET
        unit = excluded.unit,
        returns = w.returns + 1,
        last_returned_at = now(),
        next_attempt_at = now() + make_interval(secs => least($5 * 2.0 ^ w.returns, $6))
    WHERE w.delivered_at IS NULL
    RETURNING w.report_id, w.returns
)
SELECT report_id, returns FROM returned
"""


async def record_outcomes(
    conn: asyncpg.Pool | asyncpg.Connection,
    delivered: list[tuple[uuid.UUID, str]],
    returned: list[tuple[uuid.UUID, str]],
    first_wait_seconds: float,
    max_wait_seconds: float,
) -> dict[uuid.UUID, int]:
    """Record confirmed cases and returned ones, each a (report id, unit) pair, in one
    statement; for each returned case, how often it has been returned so far."""
    # A report published twice in one batch is one case (and an upsert may touch a row once).
    delivered, returned = list(dict.fromkeys(delivered)), list(dict.fromkeys(returned))
    rows = await conn.fetch(
        _OUTCOMES,
        [r for r, _ in delivered],
        [u for _, u in delivered],
        [r for r, _ in returned],
        [u for _, u in returned],
        first_wait_seconds,
        max_wait_seconds,
    )
    return {r["report_id"]: r["returns"] for r in rows}


# Only a report of this database is recorded (another id inserts nothing, and is no error).
_DEAD_LETTER = """
INSERT INTO dead_letters (report_id, code, reason)
SELECT id, $2, $3 FROM reports WHERE id = $1
"""


async def record_dead_letter(
    pool: asyncpg.Pool, report_id: uuid.UUID, code: str, reason: str
) -> bool:
    """Note that a report's message went to the dead-letter queue, with its code and reason
    (free of personal data), in one statement; False when the id is no report of this
    database (nothing is recorded)."""
    status = await pool.execute(_DEAD_LETTER, report_id, code, reason)
    return bool(status == "INSERT 0 1")


_WAITING_BY_UNIT = """
SELECT unit, count(*)::int AS cases FROM waiting_cases
WHERE delivered_at IS NULL AND unit = ANY($1::text[])
GROUP BY unit
"""


async def waiting_by_unit(
    conn: asyncpg.Pool | asyncpg.Connection, units: list[str]
) -> dict[str, int]:
    """How many cases wait for each of these units' queues now (returned, not yet taken),
    whether or not they are due to be published again."""
    return {r["unit"]: r["cases"] for r in await conn.fetch(_WAITING_BY_UNIT, units)}


class WaitingCase(msgspec.Struct):
    """A returned case due to be published again: its report as stored, and its decision."""

    report_id: uuid.UUID
    report: msgspec.Raw
    decision: Decision
    quality_issues: bool  # whether the report has any (a triage reason of the decision)


_DUE = """
SELECT w.report_id, r.report::text AS report, d.decision::text AS decision,
       r.quality_issues <> '[]'::jsonb AS quality_issues
FROM waiting_cases w
JOIN reports r ON r.id = w.report_id
JOIN decisions d ON d.report_id = w.report_id
WHERE w.delivered_at IS NULL AND w.next_attempt_at <= now()
ORDER BY w.next_attempt_at
LIMIT $1
FOR UPDATE OF w SKIP LOCKED
"""


async def due_waiting_cases(conn: asyncpg.Connection, limit: int) -> list[WaitingCase]:
    """Waiting cases whose next attempt is due, locked for this transaction (other routers
    skip them)."""
    return [
        WaitingCase(
            r["report_id"],
            msgspec.Raw(r["report"].encode()),
            msgspec.json.decode(r["decision"], type=Decision),
            r["quality_issues"],
        )
        for r in await conn.fetch(_DUE, limit)
    ]


def catalogue_json(ruleset: RuleSet) -> str:
    """The unit catalogue as the operations page reads it."""
    catalogue = ruleset.catalogue
    districts = [
        District(
            d.name,
            d.slug,
            d.unit(d.default),
            [CatalogueUnit(d.unit(s), s, catalogue.section_names[s]) for s in d.sections],
        )
        for d in catalogue.districts.values()
    ]
    return msgspec.json.encode(Catalogue(districts)).decode()


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
