"""SQL of people's cases: the stored decision and report version a `case.decided` message
names, the deliveries the unit queues confirmed, and the cases waiting for a missing queue."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

# The report a case carries is the version the person decided on: version 1 is the report
# as accepted (`reports`), a correction's is in `report_versions` (NULL when missing).
_CASES = """
SELECT d.id, d.report_id, d.unit, d.version, d.decision::text AS decision,
       CASE WHEN d.version = 1 THEN r.report::text ELSE v.report::text END AS report,
       EXISTS (SELECT 1 FROM person_case_deliveries c WHERE c.decision_id = d.id) AS delivered
FROM person_decisions d
JOIN reports r ON r.id = d.report_id
LEFT JOIN report_versions v ON v.report_id = d.report_id AND v.version = d.version
WHERE d.id = ANY($1::uuid[])
"""


@dataclass(frozen=True, slots=True)
class PersonCase:
    """A person's decision as stored: its id, report, unit and report version, the decision
    as JSON text (`schemas.decision.Decision` with `decided_by`), the report version as
    JSON text (None when that version is not stored), and whether a unit's queue confirmed
    its case already."""

    decision_id: uuid.UUID
    report_id: uuid.UUID
    unit: str
    version: int
    decision: str
    report: str | None
    delivered: bool = False


def _case(row: asyncpg.Record) -> PersonCase:
    return PersonCase(
        row["id"],
        row["report_id"],
        row["unit"],
        row["version"],
        row["decision"],
        row["report"],
        row["delivered"],
    )


async def person_cases(
    conn: asyncpg.Pool | asyncpg.Connection, ids: list[uuid.UUID]
) -> dict[uuid.UUID, PersonCase]:
    """The stored decisions of these ids, by id (none for an id no decision has), in one
    statement."""
    return {r["id"]: _case(r) for r in await conn.fetch(_CASES, ids)}


# One statement after the confirms: the confirmed cases recorded once per decision (which of
# them are new is returned, to count them once), their waits ended; the returned ones put
# to wait or their wait lengthened (`$7` seconds after the first return, doubling with each
# one after, at most `$8`), unless a queue confirmed them before.
_OUTCOMES = """
WITH delivered AS (
    INSERT INTO person_case_deliveries (decision_id, report_id, unit)
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[])
    ON CONFLICT DO NOTHING
    RETURNING decision_id
), settled AS (
    UPDATE person_waiting_cases SET delivered_at = now()
    WHERE decision_id = ANY($1::uuid[]) AND delivered_at IS NULL
), returned AS (
    INSERT INTO person_waiting_cases AS w (decision_id, report_id, unit, next_attempt_at)
    SELECT t.d, t.r, t.u, now() + make_interval(secs => $7)
    FROM unnest($4::uuid[], $5::uuid[], $6::text[]) AS t(d, r, u)
    WHERE NOT EXISTS (SELECT 1 FROM person_case_deliveries c WHERE c.decision_id = t.d)
    ON CONFLICT (decision_id) DO UPDATE SET
        returns = w.returns + 1,
        last_returned_at = now(),
        next_attempt_at = now() + make_interval(secs => least($7 * 2.0 ^ w.returns, $8))
    WHERE w.delivered_at IS NULL
    RETURNING w.decision_id, w.returns
)
SELECT decision_id, returns FROM returned
UNION ALL
SELECT decision_id, NULL FROM delivered
"""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording a batch's outcomes came to: the decisions delivered for the first time
    (a redelivery's case recorded before is not among them), and how often each returned
    case has been returned so far."""

    new: set[uuid.UUID]
    returns: dict[uuid.UUID, int]


async def record_outcomes(
    conn: asyncpg.Pool | asyncpg.Connection,
    delivered: list[PersonCase],
    returned: list[PersonCase],
    first_wait_seconds: float,
    max_wait_seconds: float,
) -> Recorded:
    """Record confirmed and returned cases in one statement."""
    # One row per decision (a decision published twice in a batch is one case).
    confirmed = list({c.decision_id: c for c in delivered}.values())
    bounced = list({c.decision_id: c for c in returned}.values())
    rows = await conn.fetch(
        _OUTCOMES,
        [c.decision_id for c in confirmed],
        [c.report_id for c in confirmed],
        [c.unit for c in confirmed],
        [c.decision_id for c in bounced],
        [c.report_id for c in bounced],
        [c.unit for c in bounced],
        first_wait_seconds,
        max_wait_seconds,
    )
    return Recorded(
        {r["decision_id"] for r in rows if r["returns"] is None},
        {r["decision_id"]: r["returns"] for r in rows if r["returns"] is not None},
    )


# The same columns as `_CASES` (the report version each decision names).
_DUE = """
SELECT d.id, d.report_id, d.unit, d.version, d.decision::text AS decision,
       CASE WHEN d.version = 1 THEN r.report::text ELSE v.report::text END AS report,
       false AS delivered
FROM person_waiting_cases w
JOIN person_decisions d ON d.id = w.decision_id
JOIN reports r ON r.id = d.report_id
LEFT JOIN report_versions v ON v.report_id = d.report_id AND v.version = d.version
WHERE w.delivered_at IS NULL AND w.next_attempt_at <= now()
ORDER BY w.next_attempt_at
LIMIT $1
FOR UPDATE OF w SKIP LOCKED
"""


async def due_person_cases(conn: asyncpg.Connection, limit: int) -> list[PersonCase]:
    """Waiting cases whose next attempt is due, locked for this transaction (other routers
    skip them)."""
    return [_case(r) for r in await conn.fetch(_DUE, limit)]
