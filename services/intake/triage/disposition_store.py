"""Dispositions in PostgreSQL: one transaction per act over the intake's pool (the work
item locked with the work list's own statements), the case a person decided stored with its
outbox row, and the prosecutors' review list."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec

from schemas.envelope import CASE_DECIDED_TYPE, CaseDecided
from schemas.report import Report
from services.common.topology import CASE_DECIDED_KEY
from services.intake.people import Person
from services.intake.triage import acts, worklist_store
from services.intake.triage.disposition_model import (
    Case,
    Downgrade,
    Place,
    Proposal,
    Reviews,
    StoredReport,
)
from services.intake.triage.model import ItemRow, Refusal

_json = msgspec.json.Encoder()
# What a disposition may change of a work item (the intake's grant on work_items).
ITEM_COLUMNS = frozenset(
    {
        "district",
        "reason",
        "detail",
        "priority",
        "priority_rank",
        "deadline_at",
        "waiting_since",
        "version",
        "state",
        "claimed_by",
        "claim_role",
        "claim_token",
        "lease_until",
        "pending_act",
        "outcome",
    }
)
# The review list holds at most this many of each kind, oldest first.
REVIEW_LIMIT = 500

_ORIGINAL = "SELECT report::text, source_format, received_at FROM reports WHERE id = $1"
_VERSION = """
SELECT v.report::text, r.source_format, r.received_at
FROM report_versions v JOIN reports r ON r.id = v.report_id
WHERE v.report_id = $1 AND v.version = $2
"""
_DECISION = """
INSERT INTO person_decisions (id, report_id, version, unit, district, priority, amqp_priority,
                              deadline_at, decided_by, decided_role, ruleset_version,
                              decided_at, decision)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb)
"""
_OUTBOX = """
INSERT INTO outbox (report_id, message_type, source_format, routing_key, payload, decision_id)
VALUES ($1, $2, $3, $4, $5, $6)
"""
# The unit of the report's latest case a queue confirmed: a person's, or the rules' (a
# triage case is no unit's).
_DELIVERED = """
SELECT unit FROM (
    SELECT unit, confirmed_at FROM person_case_deliveries WHERE report_id = $1
    UNION ALL
    SELECT unit, confirmed_at FROM case_deliveries WHERE report_id = $1 AND unit <> 'triage'
) AS cases
ORDER BY confirmed_at DESC LIMIT 1
"""
# Where a report belongs, as a person's read of it (`GET /v1/reports/{id}`) places it: its
# work item's district, else its latest person decision's, else the rules' decision's (whose
# catalogue name is made a slug, as people's districts are: migration 0018).
_PLACE = """
SELECT CASE WHEN w.report_id IS NOT NULL THEN w.district
            WHEN p.id IS NOT NULL THEN p.district ELSE district_slug(d.district) END AS district,
       w.report_id IS NOT NULL OR p.id IS NOT NULL OR d.report_id IS NOT NULL AS placed
FROM reports r
LEFT JOIN work_items w ON w.report_id = r.id
LEFT JOIN decisions d ON d.report_id = r.id
LEFT JOIN LATERAL (
    SELECT id, district FROM person_decisions
    WHERE report_id = r.id ORDER BY decided_at DESC LIMIT 1
) p ON true
WHERE r.id = $1
"""
_LATEST_PROPOSAL = """
SELECT id FROM person_acts
WHERE report_id = $1
  AND (kind = 'closure_proposed' OR (kind = 'transferred' AND details->>'to' = 'authority'))
ORDER BY acted_at DESC LIMIT 1
"""
_REVIEW_OF = """
SELECT id FROM person_acts
WHERE report_id = (SELECT report_id FROM person_acts WHERE id = $1)
  AND kind = 'downgrade_reviewed' AND details->>'act' = $1::text
ORDER BY acted_at LIMIT 1
"""
_SEES = "($1::bool OR w.district IS NULL OR w.district = ANY($2::text[]))"
_PROPOSALS = f"""
SELECT w.report_id, a.id AS act_id, a.kind, w.district, a.actor, a.actor_role, a.acted_at,
       a.reason, a.details::text AS details
FROM work_items w JOIN person_acts a ON a.id = w.pending_act
WHERE w.state = 'proposed' AND {_SEES}
ORDER BY a.acted_at LIMIT {REVIEW_LIMIT}
"""  # noqa: S608 (constants of this module only)
_DOWNGRADES = f"""
SELECT a.report_id, a.id AS act_id, a.kind, w.district, a.actor, a.actor_role, a.acted_at,
       a.reason, a.details::text AS details
FROM person_acts a JOIN work_items w ON w.report_id = a.report_id
WHERE a.kind IN ('corrected', 'routed') AND a.details->>'downgrade' = 'true' AND {_SEES}
  AND NOT EXISTS (
      SELECT FROM person_acts r
      WHERE r.report_id = a.report_id AND r.kind = 'downgrade_reviewed'
        AND r.details->>'act' = a.id::text)
ORDER BY a.acted_at LIMIT {REVIEW_LIMIT}
"""  # noqa: S608 (constants of this module only)


class PgDispositionTx:
    """`disposition_model.DispositionTx` on one connection inside its transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock_claimed(
        self, report_id: uuid.UUID, person: Person, token: uuid.UUID, now: dt.datetime
    ) -> ItemRow:
        return await worklist_store.lock_claimed(self.conn, report_id, person, token, now)

    async def lock_item(self, report_id: uuid.UUID, person: Person) -> ItemRow:
        return await worklist_store.lock_item(self.conn, report_id, person)

    async def answer_of(self, actor: str, key: str) -> dict[str, Any] | None:
        return await acts.answer_of(self.conn, actor, key)

    async def report(self, report_id: uuid.UUID, version: int) -> StoredReport:
        if version == 1:
            row = await self.conn.fetchrow(_ORIGINAL, report_id)
        else:
            row = await self.conn.fetchrow(_VERSION, report_id, version)
        if row is None:  # a work item references its report and its versions
            raise LookupError(f"report {report_id} version {version} is not stored")
        report = msgspec.json.decode(row["report"], type=Report)
        return StoredReport(report, row["source_format"], row["received_at"])

    async def record(self, act: acts.NewAct) -> None:
        try:
            await worklist_store.record_act(
                self.conn,
                report_id=act.report_id,
                kind=act.kind,
                actor=act.actor,
                actor_role=act.actor_role,
                details=act.details,
                reason=act.reason,
                act_id=act.id,
                idempotency_key=act.idempotency_key,
                response=act.response,
            )
        except asyncpg.UniqueViolationError:
            # The same key is being used by another of the person's requests right now.
            raise Refusal(
                409,
                "idempotency-key-in-use",
                "Idempotency-Key in use",
                f"another request of yours under this {acts.HEADER} was done first; "
                "send this one again to get its answer",
                header=acts.HEADER,
            ) from None

    async def add_version(
        self, report_id: uuid.UUID, version: int, report: Report, act_id: uuid.UUID
    ) -> None:
        await self.conn.execute(
            "INSERT INTO report_versions (report_id, version, report, quality_issues, act_id)"
            " VALUES ($1, $2, $3::jsonb, $4::jsonb, $5)",
            report_id,
            version,
            _json.encode(report).decode(),
            _json.encode(report.quality_issues).decode(),
            act_id,
        )

    async def add_case(self, case: Case) -> None:
        decision = case.decision
        by = decision.decided_by
        assert by is not None  # a person's case always says who
        await self.conn.execute(
            _DECISION,
            case.id,
            decision.report_id,
            case.version,
            decision.unit,
            case.district,
            decision.priority.value,
            decision.amqp_priority,
            decision.deadline.due_at if decision.deadline else None,
            by.subject,
            by.role,
            decision.ruleset_version,
            decision.decided_at,
            _json.encode(decision).decode(),
        )
        await self.conn.execute(
            _OUTBOX,
            decision.report_id,
            CASE_DECIDED_TYPE,
            case.source_format,
            CASE_DECIDED_KEY,
            _json.encode(CaseDecided(decision_id=case.id, report_id=decision.report_id)),
            case.id,
        )

    async def update_item(self, report_id: uuid.UUID, changes: dict[str, Any]) -> None:
        unknown = set(changes) - ITEM_COLUMNS
        if unknown:
            raise ValueError(f"not a column a disposition changes: {sorted(unknown)}")
        names = list(changes)
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=2))
        # Column names from ITEM_COLUMNS only; every value a parameter.
        update = (
            f"UPDATE work_items SET {sets}, updated_at = clock_timestamp() WHERE report_id = $1"  # noqa: S608
        )
        await self.conn.execute(
            update,
            report_id,
            *(changes[name] for name in names),
        )

    async def report_place(self, report_id: uuid.UUID) -> Place | None:
        row = await self.conn.fetchrow(_PLACE, report_id)
        return None if row is None else Place(row["placed"], row["district"])

    async def delivered_unit(self, report_id: uuid.UUID) -> str | None:
        unit: str | None = await self.conn.fetchval(_DELIVERED, report_id)
        return unit

    async def act(self, act_id: uuid.UUID) -> acts.ActRow | None:
        return await acts.act_of(self.conn, act_id)

    async def latest_proposal(self, report_id: uuid.UUID) -> uuid.UUID | None:
        found: uuid.UUID | None = await self.conn.fetchval(_LATEST_PROPOSAL, report_id)
        return found

    async def review_of(self, act_id: uuid.UUID) -> acts.ActRow | None:
        review = await self.conn.fetchval(_REVIEW_OF, act_id)
        return None if review is None else await acts.act_of(self.conn, review)


def _listed(record: asyncpg.Record, person: Person) -> dict[str, Any]:
    return {
        "report_id": record["report_id"],
        "act_id": record["act_id"],
        "kind": record["kind"],
        "district": record["district"],
        "reason": record["reason"],
        "details": msgspec.json.decode(record["details"]),
        "yours": record["actor"] == person.subject,
    }


class PgDispositionStore:
    """`disposition_model.DispositionStore` over the intake's pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgDispositionTx]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield PgDispositionTx(conn)

    async def reviews(self, person: Person) -> Reviews:
        sees = (person.national, list(person.districts))
        async with self.pool.acquire() as conn:
            proposals = await conn.fetch(_PROPOSALS, *sees)
            downgrades = await conn.fetch(_DOWNGRADES, *sees)
        return Reviews(
            proposals=[
                Proposal(
                    **_listed(r, person),
                    proposed_by=r["actor"],
                    proposed_role=r["actor_role"],
                    proposed_at=r["acted_at"],
                )
                for r in proposals
            ],
            downgrades=[
                Downgrade(
                    **_listed(r, person), by=r["actor"], role=r["actor_role"], at=r["acted_at"]
                )
                for r in downgrades
            ],
        )
