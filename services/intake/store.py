"""The intake's reports in PostgreSQL: each with its outbox row in one statement; read back."""

from __future__ import annotations

import uuid

import asyncpg

from services.intake import timeline
from services.intake.cases import view as case_view
from services.intake.cases.view import CASES_JSON
from services.intake.records import DeadLetter, Erasure, NewReport, Outcome, ReportRow, Stored
from services.intake.timeline import HISTORY_JSON

# One statement: atomic by itself, so no BEGIN/COMMIT round trips. The outbox row is written
# only for reports the first CTE really inserted (not for repeats). The report keeps the
# SHA-256 of its message, computed from the very bytes the outbox row holds: the router
# routes a delivery only when its body has that digest (it outlives the outbox's copy).
_INSERT = """
WITH incoming AS (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::bytea[], $7::bytea[], $8::text[], $9::text[], $10::text[],
                         $11::text[], $12::text[], $13::bytea[])
        AS t(id, client_id, source, external_id, source_format, content_hash, raw_body,
             raw_content_type, report, quality_issues, message_type, routing_key, payload)
), inserted AS (
    INSERT INTO reports (id, client_id, source, external_id, source_format, content_hash,
                         raw_body, raw_content_type, report, quality_issues, message_sha256)
    SELECT id, client_id, source, external_id, source_format, content_hash,
           raw_body, raw_content_type, report::jsonb, quality_issues::jsonb, sha256(payload)
    FROM incoming
    ON CONFLICT (source, external_id) DO NOTHING
    RETURNING id
), announced AS (
    INSERT INTO outbox (report_id, message_type, source_format, routing_key, payload)
    SELECT i.id, i.message_type, i.source_format, i.routing_key, i.payload
    FROM incoming i JOIN inserted USING (id)
)
SELECT id FROM inserted
"""

# The order of the unnest() arrays in _INSERT.
_COLUMNS = (
    "id",
    "client_id",
    "source",
    "external_id",
    "source_format",
    "content_hash",
    "raw_body",
    "raw_content_type",
    "report_json",
    "quality_issues_json",
    "message_type",
    "routing_key",
    "payload",
)

_EXISTING = """
SELECT r.source, r.external_id, r.id, r.content_hash
FROM reports r
JOIN unnest($1::text[], $2::text[]) AS k(source, external_id)
  ON r.source = k.source AND r.external_id = k.external_id
"""


# Where a report is. A person's work outranks the rules': on the work list (`claimed` while
# a lease runs, else `waiting`), a proposal waiting for a prosecutor, closed or transferred
# out of the police, or a person's case: `routed` once its unit queue confirmed it, `decided`
# before (`waiting_for_unit_queue` while RabbitMQ returned it: no queue for its unit). Else
# the rules' case, in order: stored; published to the router; dead-lettered by the router (it
# could not route it); decided; waiting because RabbitMQ returned its case (no queue for its
# unit); routed or triaged once its queue confirmed it. The report shown is the latest version
# (a correction's, else as accepted), the decision the latest (a person's, else the rules').
# Its district is a slug, as people's districts are: the work item's, a person's decision's,
# or the rules' decision's catalogue name made one (`district_slug`, migration 0018).
# The outbox row is the report's own (a person's decision has its own). The history and the
# cases units hold come in the same statement (one round trip); only constants are composed.
_REPORT = f"""
SELECT r.id, r.client_id, r.source_format, r.received_at, o.published_at,
       CASE WHEN w.state = 'waiting' AND w.lease_until > now() THEN 'claimed'
            WHEN w.state = 'waiting' THEN 'waiting'
            WHEN w.state = 'proposed' THEN 'proposed'
            WHEN w.outcome IN ('closed', 'transferred_out') THEN w.outcome
            WHEN pc.decision_id IS NOT NULL THEN 'routed'
            WHEN pq.decision_id IS NOT NULL THEN 'waiting_for_unit_queue'
            WHEN p.id IS NOT NULL OR w.state = 'done' THEN 'decided'
            WHEN c.unit = 'triage' THEN 'triaged'
            WHEN c.unit IS NOT NULL THEN 'routed'
            WHEN q.report_id IS NOT NULL THEN 'waiting_for_unit_queue'
            WHEN d.report_id IS NOT NULL THEN 'decided'
            WHEN x.code IS NOT NULL THEN 'dead_lettered'
            WHEN o.published_at IS NOT NULL THEN 'published'
            WHEN o.set_aside_at IS NOT NULL THEN 'set_aside'
            ELSE 'accepted' END AS status,
       coalesce(v.report, r.report)::text AS report_json,
       coalesce(v.quality_issues, r.quality_issues)::text AS quality_issues_json,
       coalesce(p.decision, d.decision)::text AS decision_json,
       x.code AS dead_letter_code, x.reason AS dead_letter_reason,
       x.at AS dead_lettered_at,
       coalesce(v.version, 1) AS version, p.id IS NOT NULL AS person_decided,
       CASE WHEN w.report_id IS NOT NULL THEN w.district
            WHEN p.id IS NOT NULL THEN p.district ELSE district_slug(d.district) END AS district,
       w.report_id IS NOT NULL OR p.id IS NOT NULL OR d.report_id IS NOT NULL AS placed,
       {HISTORY_JSON} AS history_json, {CASES_JSON} AS cases_json,
       e.erased_at, e.closed_at AS erasure_closed_at, e.kept_days AS erasure_kept_days,
       e.erased AS erasure_erased
FROM reports r
LEFT JOIN outbox o ON o.report_id = r.id AND o.decision_id IS NULL
LEFT JOIN decisions d ON d.report_id = r.id
LEFT JOIN LATERAL (
    SELECT unit FROM case_deliveries
    WHERE report_id = r.id ORDER BY confirmed_at DESC LIMIT 1
) c ON true
LEFT JOIN waiting_cases q ON q.report_id = r.id AND q.delivered_at IS NULL
LEFT JOIN LATERAL (
    SELECT code, reason, at FROM dead_letters
    WHERE report_id = r.id ORDER BY id DESC LIMIT 1
) x ON true
LEFT JOIN work_items w ON w.report_id = r.id
LEFT JOIN LATERAL (
    SELECT id, district, decision FROM person_decisions
    WHERE report_id = r.id ORDER BY decided_at DESC LIMIT 1
) p ON true
LEFT JOIN person_case_deliveries pc ON pc.decision_id = p.id
LEFT JOIN person_waiting_cases pq ON pq.decision_id = p.id AND pq.delivered_at IS NULL
LEFT JOIN LATERAL (
    SELECT version, report, quality_issues FROM report_versions
    WHERE report_id = r.id ORDER BY version DESC LIMIT 1
) v ON true
LEFT JOIN erasures e ON e.report_id = r.id
WHERE r.id = $1
"""  # noqa: S608

# What every intake statement needs: its tables, and parameters bound through the extended
# protocol as the pool binds them (named prepared statements, or unnamed ones behind a
# transaction pooler). A bare `SELECT 1` passes where the service's own statements fail.
_READY = "SELECT count(*) FROM outbox WHERE id = $1"


class PgReportStore:
    """The intake's reports in PostgreSQL, on a connection pool (`service.ReportStore`)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert_reports(self, items: list[NewReport]) -> list[Stored]:
        """Store new reports with their outbox rows, atomically; classify repeats: one
        `Stored` per item, in order.

        A report whose (source, external_id) is taken is a duplicate when its content hash
        is the stored one's, else a conflict; neither writes anything. Raises asyncpg's
        errors (and `db.CONNECTION_ERRORS`) when PostgreSQL fails.
        """
        if not items:
            return []
        for _ in range(2):
            try:
                return await self._insert_once(items)
            except asyncpg.DeadlockDetectedError:
                # Two batches touching the same keys in different orders; this one is retried.
                continue
        return await self._insert_once(items)

    async def _insert_once(self, items: list[NewReport]) -> list[Stored]:
        async with self._pool.acquire() as conn:
            inserted = {
                r["id"]
                for r in await conn.fetch(
                    _INSERT, *([getattr(i, c) for i in items] for c in _COLUMNS)
                )
            }
            repeats = [i for i in items if i.id not in inserted]
            existing = {}
            if repeats:
                # The rows that won are committed and never change, so reading them after the
                # insert, outside its transaction, is safe.
                rows = await conn.fetch(
                    _EXISTING, [i.source for i in repeats], [i.external_id for i in repeats]
                )
                existing = {(r["source"], r["external_id"]): r for r in rows}
        results = []
        for item in items:
            if item.id in inserted:
                results.append(Stored(Outcome.ACCEPTED, item.id))
                continue
            row = existing[(item.source, item.external_id)]
            same = bytes(row["content_hash"]) == item.content_hash
            results.append(Stored(Outcome.DUPLICATE if same else Outcome.CONFLICT, row["id"]))
        return results

    async def get_report(self, report_id: uuid.UUID) -> ReportRow | None:
        """One report as it now is (its latest version and decision, its history's facts)
        and its status: where it truly is; None when no report has this id.

        A person's work comes first: `waiting` on the work list (`claimed` while a person's
        lease runs), `proposed` while a closure or a transfer out of the police waits for a
        prosecutor, `closed`, `transferred_out`, and for a person's case `decided` until its
        unit queue confirmed it (`person_case_deliveries`), then `routed`, or meanwhile
        `waiting_for_unit_queue` while RabbitMQ returned it (`person_waiting_cases`). The
        rules' case:
        `routed` and `triaged` mean a queue confirmed it (`case_deliveries`; a triaged case
        gets a work item as its delivery is recorded, and is `waiting` from then); before
        that it is `decided`, or `waiting_for_unit_queue` when RabbitMQ returned it because no
        queue is bound for its unit; before a decision, `dead_lettered` when the router sent
        its message to the dead-letter queue (`dead_letters`, the latest with its code and
        reason), else `published` or `accepted`, or `set_aside` when the relay set its outbox
        row aside for an operator (docs/operations.md). A decision outranks a dead letter:
        once the rules decided, a later dead letter is of a stray copy, and the case goes
        on."""
        row = await self._pool.fetchrow(_REPORT, report_id)
        if row is None:
            return None
        found = dict(row)
        code, reason, at = (
            found.pop("dead_letter_code"),
            found.pop("dead_letter_reason"),
            found.pop("dead_lettered_at"),
        )
        history = tuple(timeline.decode(found.pop("history_json")))
        cases = tuple(case_view.decode(found.pop("cases_json")))
        dead = DeadLetter(code, reason, at) if found["status"] == "dead_lettered" else None
        erased = (
            found.pop("erased_at"),
            found.pop("erasure_closed_at"),
            found.pop("erasure_kept_days"),
            found.pop("erasure_erased"),
        )
        erasure = None if erased[0] is None else Erasure(*erased[:3], tuple(erased[3]))
        return ReportRow(**found, dead_letter=dead, history=history, erasure=erasure, cases=cases)

    async def ping(self) -> bool:
        """True when the database answers the kind of statement the intake makes: a
        parameterised read of the outbox, run twice on one connection so that a statement
        the pool keeps is used again, as the service's are (one index probe each). Raises
        what the pool raises when it does not answer."""
        async with self._pool.acquire() as conn:
            for _ in range(2):
                await conn.fetchval(_READY, 0)
        return True
