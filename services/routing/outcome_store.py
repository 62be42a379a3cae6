"""SQL of what became of routed reports: confirmed cases (a triage case's first confirmation
puts the report on the people's work list), cases waiting for a missing unit queue, and
dead-lettered reports."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
import msgspec

from schemas.decision import Decision
from services.routing.triage_entry import WorkEntry

# One statement per batch, after the confirms: the confirmed cases recorded (once per report
# and unit, however often they were published), their waits ended; the returned cases put
# to wait, or their wait lengthened: `$5` seconds after the first return, doubling with each
# one after, at most `$6`. A case a queue confirmed before is not put to wait again (a
# redelivery returned after its queue went): it is where it should be. The triage cases
# confirmed (`$7`-`$10`: report, reason, detail, district slug) wait for a person from now:
# one work list row per report, made by the first confirmation (a redelivery, or a row a
# person's acts have changed since, is left alone); its rank is `Priority.rank`.
_OUTCOMES = """
WITH delivered AS (
    INSERT INTO case_deliveries (report_id, unit)
    SELECT * FROM unnest($1::uuid[], $2::text[])
    ON CONFLICT DO NOTHING
), listed AS (
    INSERT INTO work_items (report_id, district, source, reason, detail, priority,
                            priority_rank, deadline_at, received_at, waiting_since)
    SELECT d.report_id, w.district, r.source, w.reason, w.detail, d.priority,
           CASE d.priority WHEN 'critical' THEN 3 WHEN 'high' THEN 2
                           WHEN 'normal' THEN 1 ELSE 0 END,
           d.deadline_at, r.received_at, now()
    FROM unnest($7::uuid[], $8::text[], $9::text[], $10::text[])
         AS w(report_id, reason, detail, district)
    JOIN decisions d ON d.report_id = w.report_id AND d.unit = 'triage'
    JOIN reports r ON r.id = w.report_id
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
    waiting: Sequence[WorkEntry] = (),
) -> dict[uuid.UUID, int]:
    """Record confirmed cases and returned ones, each a (report id, unit) pair, and put the
    confirmed triage cases of `waiting` on the work list (once per report), in one
    statement; for each returned case, how often it has been returned so far."""
    # A report published twice in one batch is one case (and an upsert may touch a row once).
    delivered, returned = list(dict.fromkeys(delivered)), list(dict.fromkeys(returned))
    listed = list({e.report_id: e for e in waiting}.values())
    rows = await conn.fetch(
        _OUTCOMES,
        [r for r, _ in delivered],
        [u for _, u in delivered],
        [r for r, _ in returned],
        [u for _, u in returned],
        first_wait_seconds,
        max_wait_seconds,
        [e.report_id for e in listed],
        [e.reason for e in listed],
        [e.detail for e in listed],
        [e.district for e in listed],
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
