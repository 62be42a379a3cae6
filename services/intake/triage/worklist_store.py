"""The work list in PostgreSQL: listing by keyset, claims and releases under the row's lock,
and the pieces a disposition's own transaction uses (`lock_claimed`, `lock_item`,
`release_in`, `record_act`)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import msgspec

from services.intake import metrics
from services.intake.people import Person
from services.intake.triage.model import Claim, ItemRow, Query
from services.intake.triage.worklist import claim_step, held, release_step, visible

# Every column: ItemRow(**record) fails on a column missing or too many.
_COLUMNS = """
       report_id, district, source, reason, detail, priority, priority_rank, deadline_at,
       received_at, waiting_since, version, state, claimed_by, claim_role, claim_token,
       lease_until, first_action_at, pending_act, outcome, updated_at
"""

_LOCK = "SELECT" + _COLUMNS + "FROM work_items WHERE report_id = $1 FOR UPDATE"

# Most urgent first; the keyset comparison spelled out so the index on
# (coalesce(deadline_at, 'infinity'), priority_rank DESC, received_at, report_id) serves it.
_ROWS = (
    "SELECT"
    + _COLUMNS
    + """FROM work_items
WHERE state = 'waiting'
  AND ($1::bool OR district IS NULL OR district = ANY($2::text[]))
  AND (cardinality($3::text[]) = 0 OR district = ANY($3::text[]))
  AND ($4::text IS NULL OR reason = $4)
  AND ($5::text IS NULL OR source = $5)
  AND (NOT $6::bool OR (
        coalesce(deadline_at, 'infinity'::timestamptz)
            >= coalesce($7::timestamptz, 'infinity'::timestamptz)
        AND (coalesce(deadline_at, 'infinity'::timestamptz)
                > coalesce($7::timestamptz, 'infinity'::timestamptz)
             OR priority_rank < $8::smallint
             OR (priority_rank = $8::smallint
                 AND (received_at, report_id) > ($9::timestamptz, $10::uuid)))))
ORDER BY coalesce(deadline_at, 'infinity'::timestamptz), priority_rank DESC, received_at,
         report_id
LIMIT $11
"""
)

# The issue codes of the version each listed item names, by primary key (a page's rows at
# most): version 1 is the report as accepted, later ones its corrections.
_CODES = """
SELECT item.report_id,
       ARRAY(SELECT DISTINCT issue ->> 'code'
             FROM jsonb_array_elements(CASE WHEN item.version = 1 THEN r.quality_issues
                                            ELSE v.quality_issues END) AS issue
             WHERE issue ->> 'code' IS NOT NULL) AS codes
FROM unnest($1::uuid[], $2::int[]) AS item (report_id, version)
JOIN reports r ON r.id = item.report_id
LEFT JOIN report_versions v ON v.report_id = item.report_id AND v.version = item.version
"""

_ACT = """
INSERT INTO person_acts (id, report_id, kind, actor, actor_role, reason, details,
                         idempotency_key, response, acted_at)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::jsonb, coalesce($10, clock_timestamp()))
"""

_CLAIM = """
UPDATE work_items
SET claimed_by = $2, claim_role = $3, claim_token = $4, lease_until = $5,
    -- The first action since the report last began to wait (a transfer or a rejection puts
    -- it on a list again): the time to first action is measured from there.
    first_action_at = CASE WHEN first_action_at IS NULL OR first_action_at < waiting_since
                           THEN $6 ELSE first_action_at END,
    updated_at = clock_timestamp()
WHERE report_id = $1
"""

_RENEW = """
UPDATE work_items SET lease_until = $2, updated_at = clock_timestamp() WHERE report_id = $1
"""

_RELEASE = """
UPDATE work_items
SET claimed_by = NULL, claim_role = NULL, claim_token = NULL, lease_until = NULL,
    updated_at = clock_timestamp()
WHERE report_id = $1
"""


def _row(record: asyncpg.Record | None) -> ItemRow | None:
    return None if record is None else ItemRow(**dict(record.items()))


async def _locked(conn: asyncpg.Connection, report_id: uuid.UUID) -> ItemRow | None:
    return _row(await conn.fetchrow(_LOCK, report_id))


async def lock_item(conn: asyncpg.Connection, report_id: uuid.UUID, person: Person) -> ItemRow:
    """The report's work item, locked (`FOR UPDATE`) in the caller's transaction, if the
    person may see it (`Refusal` 404 not on the work list, 403 another district); for acts
    on an item nobody claims (a prosecutor's approval of a proposal)."""
    return visible(await _locked(conn, report_id), report_id, person)


async def lock_claimed(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    person: Person,
    token: uuid.UUID,
    now: dt.datetime,
) -> ItemRow:
    """The report's work item, locked (`FOR UPDATE`) in the caller's transaction, when
    `person` holds its live claim with `token` at `now` (UTC-aware). `Refusal`: 404 not on
    the work list, 403 another district, 409 `not-waiting` (names the state), 409 `claimed`
    (names holder and lease_until), 409 `not-claimed-by-you`, 409 `claim-lapsed`."""
    return held(await _locked(conn, report_id), report_id, person, token, now)


async def release_in(conn: asyncpg.Connection, report_id: uuid.UUID) -> None:
    """Clears the item's claim (holder, role, token, lease) in the caller's transaction;
    records no act (the caller's act says why)."""
    await conn.execute(_RELEASE, report_id)


async def record_act(
    conn: asyncpg.Connection,
    *,
    report_id: uuid.UUID,
    kind: str,
    actor: str,
    actor_role: str,
    details: Mapping[str, Any] | None = None,
    reason: str | None = None,
    act_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    response: Any = None,
    acted_at: dt.datetime | None = None,
) -> uuid.UUID:
    """Inserts a `person_acts` row (append-only) and returns its id (new unless `act_id`).
    `details` and `response` are encoded as JSON by msgspec (UUIDs, times as ISO text);
    `response` None stores NULL; `acted_at` None: the database's clock. A second act with
    the same (actor, idempotency_key) raises `asyncpg.UniqueViolationError`."""
    act = act_id or uuid.uuid4()
    await conn.execute(
        _ACT,
        act,
        report_id,
        kind,
        actor,
        actor_role,
        reason,
        msgspec.json.encode(dict(details or {})).decode(),
        idempotency_key,
        None if response is None else msgspec.json.encode(response).decode(),
        acted_at,
    )
    return act


class PgWorklistStore:
    """`worklist.WorklistStore` over the intake's pool (`pool`, public for the dispositions'
    own transactions)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def rows(self, query: Query) -> list[ItemRow]:
        after = query.after
        async with self.pool.acquire() as conn:
            records = await conn.fetch(
                _ROWS,
                query.national,
                list(query.visible),
                list(query.districts),
                query.reason,
                query.source,
                after is not None,
                after.deadline_at if after else None,
                after.priority_rank if after else 0,
                after.received_at if after else None,
                after.report_id if after else None,
                query.limit,
            )
        return [ItemRow(**dict(record.items())) for record in records]

    async def quality_codes(self, rows: Sequence[ItemRow]) -> dict[uuid.UUID, list[str]]:
        async with self.pool.acquire() as conn:
            records = await conn.fetch(
                _CODES, [row.report_id for row in rows], [row.version for row in rows]
            )
        return {record["report_id"]: list(record["codes"]) for record in records}

    async def claim(
        self, report_id: uuid.UUID, person: Person, now: dt.datetime, lease: dt.timedelta
    ) -> Claim:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await _locked(conn, report_id)
            step = claim_step(row, report_id, person, now, lease)
            if step.renew:
                # A renewal is the lease's state, not an act: the audit keeps the claim.
                await conn.execute(_RENEW, report_id, step.lease_until)
            else:
                if step.lapsed is not None:
                    # The lapsed holder's claim ends now, recorded under their name.
                    holder, role = step.lapsed
                    await record_act(
                        conn,
                        report_id=report_id,
                        kind="released",
                        actor=holder,
                        actor_role=role,
                        details={"lapsed": True},
                    )
                await record_act(
                    conn,
                    report_id=report_id,
                    kind="claimed",
                    actor=person.subject,
                    actor_role=person.acting_role,
                    details={"token": step.token, "lease_until": step.lease_until},
                )
                await conn.execute(
                    _CLAIM,
                    report_id,
                    person.subject,
                    person.acting_role,
                    step.token,
                    step.lease_until,
                    now,
                )
        if row is not None and (
            row.first_action_at is None or row.first_action_at < row.waiting_since
        ):
            # Committed: the first claim since the report began to wait on this list.
            metrics.first_action(row.district, row.waiting_since, now)
        return Claim(report_id, step.token, person.subject, step.lease_until)

    async def release(self, report_id: uuid.UUID, person: Person, now: dt.datetime) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await _locked(conn, report_id)
            lapsed = release_step(row, report_id, person, now)
            assert row is not None
            await record_act(
                conn,
                report_id=report_id,
                kind="released",
                actor=person.subject,
                actor_role=row.claim_role or person.acting_role,
                details={"lapsed": lapsed},
            )
            await release_in(conn, report_id)
