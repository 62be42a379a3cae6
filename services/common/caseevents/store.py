"""Case events in PostgreSQL: a batch judged and applied in one transaction, set-based (both
doors use it: the intake's HTTP and the router's AMQP), and a report's cases and events."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import asyncpg
import msgspec

from schemas.caseevents import CaseEvent, CaseEventKind
from services.common.caseevents.model import (
    DeadlineState,
    HeldCase,
    RecordedEvent,
    Refusal,
    applied,
    deadline_state,
    judge,
)

__all__ = ["Incoming", "Outcome", "RecordedEvent", "apply_events", "case_events_of", "cases_of"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """An event to apply, with who sent it (the API client's id, or `amqp:` + the broker
    user) and the door it came by."""

    event: CaseEvent
    client: str
    via: Literal["http", "amqp"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one event: `applied`, `repeat` (its id and content were applied
    before: nothing changed) or `refused` (with the refusal and its message; nothing
    changed); the case it applies to (None when refused) and that case's deadline state
    after it (None: no deadline, or refused)."""

    event_id: uuid.UUID
    report_id: uuid.UUID
    verdict: Literal["applied", "repeat", "refused"]
    refusal: Refusal | None
    message: str | None
    case_id: uuid.UUID | None
    deadline: DeadlineState | None


_CASE_COLUMNS = """
       u.case_id, u.report_id, u.unit, u.routed_at, u.received_at, u.returned_at, u.closed_at,
       u.last_event_at, u.due_at, u.met_by, u.met_at, u.priority, u.deadline_moment,
       u.deadline_from, u.return_reason, u.outcome, u.met_event
"""

# The cases the batch's units hold of its reports, locked in one order (case id) so that two
# batches never wait on each other crosswise. A case returned meanwhile by another batch
# drops out when its lock is granted (the condition is checked again on the new row).
_HELD = (
    "SELECT"
    + _CASE_COLUMNS
    + """
FROM unit_cases u
JOIN unnest($1::uuid[], $2::text[]) AS k (report_id, unit)
  ON u.report_id = k.report_id AND u.unit = k.unit
WHERE u.returned_at IS NULL
ORDER BY u.case_id
FOR UPDATE OF u
"""
)

# Cases by id, unlocked: the cases of repeated events no longer held (a `returned` sent again).
_BY_ID = "SELECT" + _CASE_COLUMNS + "FROM unit_cases u WHERE u.case_id = ANY($1::uuid[])"

_EXISTING = """
SELECT event_id, case_id, digest FROM case_events WHERE event_id = ANY($1::uuid[])
"""

# One statement for the batch's changes: its events appended, its cases' new state, and the
# reports whose case was returned put back on the work list, waiting for a person: a new row
# (a rules' case never waited), or a decided one (`done`) waiting again, its claim and
# outcome cleared; a row still waiting or proposed is on the list already and left alone.
# The district is the slug of the district the case was decided for (a person's decision
# names it by slug; the rules' by the catalogue's name, made a slug by migration 0018's
# district_slug).
# The rank is `Priority.rank`; the deadline the case's.
_WRITE = """
WITH appended AS (
    INSERT INTO case_events (event_id, report_id, case_id, unit, kind, occurred_at, reason,
                             outcome, client, via, digest)
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[],
                         $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::text[],
                         $11::bytea[])
), changed AS (
    UPDATE unit_cases u
    SET received_at = c.received_at, returned_at = c.returned_at,
        return_reason = c.return_reason, closed_at = c.closed_at, outcome = c.outcome,
        last_event_at = c.last_event_at, met_at = c.met_at, met_event = c.met_event,
        updated_at = clock_timestamp()
    FROM unnest($12::uuid[], $13::timestamptz[], $14::timestamptz[], $15::text[],
                $16::timestamptz[], $17::text[], $18::timestamptz[], $19::timestamptz[],
                $20::uuid[])
         AS c (case_id, received_at, returned_at, return_reason, closed_at, outcome,
               last_event_at, met_at, met_event)
    WHERE u.case_id = c.case_id
), listed AS (
    INSERT INTO work_items AS w (report_id, district, source, reason, detail, priority,
                                 priority_rank, deadline_at, received_at, waiting_since)
    SELECT u.report_id,
           CASE WHEN p.id IS NOT NULL THEN p.district
                ELSE district_slug(d.district) END,
           r.source, 'returned', t.reason, u.priority,
           CASE u.priority WHEN 'critical' THEN 3 WHEN 'high' THEN 2
                           WHEN 'normal' THEN 1 ELSE 0 END,
           u.due_at, r.received_at, $23
    FROM unnest($21::uuid[], $22::text[]) AS t (case_id, reason)
    JOIN unit_cases u ON u.case_id = t.case_id
    JOIN reports r ON r.id = u.report_id
    LEFT JOIN person_decisions p ON p.id = u.case_id
    LEFT JOIN decisions d ON d.report_id = u.case_id
    ORDER BY u.report_id
    ON CONFLICT (report_id) DO UPDATE SET
        district = excluded.district, reason = excluded.reason, detail = excluded.detail,
        priority = excluded.priority, priority_rank = excluded.priority_rank,
        deadline_at = excluded.deadline_at, waiting_since = excluded.waiting_since,
        state = 'waiting', claimed_by = NULL, claim_role = NULL, claim_token = NULL,
        lease_until = NULL, pending_act = NULL, outcome = NULL, updated_at = clock_timestamp()
    WHERE w.state = 'done'
)
SELECT 1
"""


@dataclass(slots=True)
class _State:
    """A case as the batch changes it, with the columns HeldCase leaves out."""

    case: HeldCase
    return_reason: str | None
    outcome: str | None
    met_event: uuid.UUID | None
    changed: bool = False


def digest(event: CaseEvent) -> bytes:
    """SHA-256 of the event's canonical JSON: the decoded Struct re-encoded, its time in UTC
    (the same instant written with another offset is the same event)."""
    canonical = msgspec.structs.replace(event, occurred_at=event.occurred_at.astimezone(dt.UTC))
    return hashlib.sha256(msgspec.json.encode(canonical)).digest()


def _held(record: asyncpg.Record) -> _State:
    fields = {name: record[name] for name in HeldCase.__dataclass_fields__}
    case = HeldCase(**{**fields, "met_by": frozenset(record["met_by"])})
    return _State(case, record["return_reason"], record["outcome"], record["met_event"])


def _deadline(state: _State | None, now: dt.datetime) -> DeadlineState | None:
    case = None if state is None else state.case
    return None if case is None else deadline_state(case.due_at, case.met_at, case.returned_at, now)


async def apply_events(
    conn: asyncpg.Connection, batch: Sequence[Incoming], now: dt.datetime | None = None
) -> list[Outcome]:
    """Judge and apply `batch` in one transaction of `conn` (a connection not in a
    transaction): one Outcome per Incoming, in order. Events of one case are judged in
    order, each against the state the ones before it left; an event id seen before with the
    same digest is a repeat, with another a CONFLICT refusal; a refused event changes
    nothing. A `returned` case puts its report back on the work list in the same
    transaction. `now` (UTC; default the clock) is what `in_future` and deadlines are
    judged against, and when a returned report begins to wait. Raises asyncpg errors (the
    whole batch is then undone): e.g. a unique violation when another transaction records
    the same new event id for another case at the same moment."""
    now = now or dt.datetime.now(dt.UTC)
    async with conn.transaction():
        return await _apply(conn, batch, now)


async def _apply(
    conn: asyncpg.Connection, batch: Sequence[Incoming], now: dt.datetime
) -> list[Outcome]:
    # The cases locked first, then the events: a batch waiting for a case's lock sees the
    # events the batch before it recorded of that case (its repeats are repeats).
    keys = list(dict.fromkeys((i.event.report_id, i.event.unit) for i in batch))
    found = await conn.fetch(_HELD, [r for r, _ in keys], [u for _, u in keys])
    states = {(s.case.report_id, s.case.unit): s for s in map(_held, found)}
    found = await conn.fetch(_EXISTING, list({i.event.event_id for i in batch}))
    known = {r["event_id"]: (r["case_id"], bytes(r["digest"])) for r in found}
    by_id = {s.case.case_id: s for s in states.values()}
    missing = list({case_id for case_id, _ in known.values()} - by_id.keys())
    if missing:
        by_id.update((s.case.case_id, s) for s in map(_held, await conn.fetch(_BY_ID, missing)))

    outcomes: list[Outcome] = []
    rows: list[tuple[object, ...]] = []
    for incoming in batch:
        event, sha = incoming.event, digest(incoming.event)
        case_id, was = known.get(event.event_id, (None, None))
        if case_id is not None and was == sha:
            deadline = _deadline(by_id.get(case_id), now)
            outcomes.append(Outcome(*_ids(event), "repeat", None, None, case_id, deadline))
            continue
        if case_id is not None:
            message = f"event {event.event_id} was recorded before with other content"
            outcomes.append(Outcome(*_ids(event), "refused", Refusal.CONFLICT, message, None, None))
            continue
        state = states.get((event.report_id, event.unit))
        verdict = judge(event, None if state is None else state.case, now)
        if verdict is not None or state is None:  # judge refuses an event of no case held
            refusal, message = verdict or (Refusal.NOT_HELD, "")
            outcomes.append(Outcome(*_ids(event), "refused", refusal, message, None, None))
            continue
        _change(state, event)
        known[event.event_id] = (state.case.case_id, sha)
        rows.append(
            (
                *_ids(event),
                state.case.case_id,
                event.unit,
                str(event.kind),
                event.occurred_at,
                event.reason and str(event.reason),
                event.outcome and str(event.outcome),
                incoming.client,
                incoming.via,
                sha,
            )
        )
        deadline = _deadline(state, now)
        outcomes.append(Outcome(*_ids(event), "applied", None, None, state.case.case_id, deadline))
    if rows:
        await _write(conn, rows, [s for s in states.values() if s.changed], now)
    return outcomes


def _ids(event: CaseEvent) -> tuple[uuid.UUID, uuid.UUID]:
    return event.event_id, event.report_id


def _change(state: _State, event: CaseEvent) -> None:
    before = state.case.met_at
    state.case = applied(state.case, event)
    if state.case.met_at != before:
        state.met_event = event.event_id
    if event.kind is CaseEventKind.RETURNED:
        state.return_reason = str(event.reason)
    if event.kind is CaseEventKind.CLOSED:
        state.outcome = str(event.outcome)
    state.changed = True


async def _write(
    conn: asyncpg.Connection,
    rows: list[tuple[object, ...]],
    changed: list[_State],
    now: dt.datetime,
) -> None:
    events = [list(column) for column in zip(*rows, strict=True)]
    returned = list(
        {s.case.report_id: s for s in changed if s.case.returned_at is not None}.values()
    )
    await conn.execute(
        _WRITE,
        *events,
        [s.case.case_id for s in changed],
        [s.case.received_at for s in changed],
        [s.case.returned_at for s in changed],
        [s.return_reason for s in changed],
        [s.case.closed_at for s in changed],
        [s.outcome for s in changed],
        [s.case.last_event_at for s in changed],
        [s.case.met_at for s in changed],
        [s.met_event for s in changed],
        [s.case.case_id for s in returned],
        [s.return_reason for s in returned],
        now,
    )


_EVENTS_OF = """
SELECT event_id, case_id, report_id, unit, kind, occurred_at, recorded_at, reason, outcome,
       client, via
FROM case_events WHERE report_id = $1 ORDER BY occurred_at, recorded_at, event_id
"""


async def case_events_of(
    conn: asyncpg.Connection | asyncpg.Pool, report_id: uuid.UUID
) -> list[RecordedEvent]:
    """The events recorded of a report's cases, by when they occurred (then recorded)."""
    return [
        RecordedEvent(**{**dict(r.items()), "kind": CaseEventKind(r["kind"])})
        for r in await conn.fetch(_EVENTS_OF, report_id)
    ]


_CASES_OF = (
    "SELECT"
    + _CASE_COLUMNS
    + "FROM unit_cases u WHERE u.report_id = $1 ORDER BY u.routed_at, u.case_id"
)


async def cases_of(conn: asyncpg.Connection | asyncpg.Pool, report_id: uuid.UUID) -> list[HeldCase]:
    """The cases units hold or held of a report (returned ones too), by when routed."""
    return [_held(r).case for r in await conn.fetch(_CASES_OF, report_id)]
