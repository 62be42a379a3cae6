"""A report's cases as its read shows them: the SQL that reads them with the report, and each
case's state and deadline state at the time of the read (pure)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Literal

import msgspec

from services.common.caseevents.model import DeadlineState, deadline_state

# The cases units hold or held of one report (`$1`), as one JSON array, oldest routing first
# (a scalar subquery: the report's read stays one round trip; an index lookup by report).
CASES_JSON = """(
SELECT coalesce(json_agg(c ORDER BY c.routed_at, c.case_id), '[]'::json)::text FROM (
    SELECT u.case_id, u.unit, u.routed_at, u.received_at, u.returned_at, u.return_reason,
           u.closed_at, u.outcome, u.due_at, u.deadline_moment AS moment, u.met_by, u.met_at
    FROM unit_cases u WHERE u.report_id = $1
) c)"""


class CaseFact(msgspec.Struct, frozen=True):
    """One row of `unit_cases` as `CASES_JSON` reads it (times with their offset; codes)."""

    case_id: uuid.UUID
    unit: str
    routed_at: dt.datetime
    received_at: dt.datetime | None = None
    returned_at: dt.datetime | None = None
    return_reason: str | None = None
    closed_at: dt.datetime | None = None
    outcome: str | None = None
    due_at: dt.datetime | None = None
    moment: str | None = None
    met_by: tuple[str, ...] = ()
    met_at: dt.datetime | None = None


class DeadlineNow(msgspec.Struct, frozen=True):
    """A case's deadline: where it stands (`open`, `met_on_time`, `met_late`, `missed`,
    `ended`: returned before it was met), when it is due, and when an event met it (UTC)."""

    state: DeadlineState
    due_at: dt.datetime
    met_at: dt.datetime | None


class CaseDeadline(DeadlineNow, frozen=True):
    """`DeadlineNow` with the moment the rule counted from (`arrest`, `report`, ...) and the
    case event kinds that meet it."""

    moment: str | None = None
    met_by: list[str] = []


CaseState = Literal["routed", "received", "returned", "closed"]


class CaseView(msgspec.Struct, frozen=True):
    """A case a unit holds or held of the report: `state` `routed` (its unit's queue
    confirmed it), `received` (the unit took it), `returned` (with `return_reason`, a code)
    or `closed` (with `outcome`, a code); the times (UTC), and its deadline (None: none)."""

    case_id: uuid.UUID
    unit: str
    state: CaseState
    routed_at: dt.datetime
    received_at: dt.datetime | None
    returned_at: dt.datetime | None
    return_reason: str | None
    closed_at: dt.datetime | None
    outcome: str | None
    deadline: CaseDeadline | None


def decode(cases_json: str | bytes) -> list[CaseFact]:
    """The facts of `CASES_JSON`'s array; raises `msgspec.ValidationError` on another shape."""
    return msgspec.json.decode(cases_json, type=list[CaseFact])


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(dt.UTC)


def state_of(case: CaseFact) -> CaseState:
    """Where a case is: closed, returned, received, or only routed (judge lets a case be
    either closed or returned, never both)."""
    if case.closed_at is not None:
        return "closed"
    if case.returned_at is not None:
        return "returned"
    return "received" if case.received_at is not None else "routed"


def deadline_of(case: CaseFact, now: dt.datetime) -> CaseDeadline | None:
    """The case's deadline at `now` (None when it has none)."""
    state = deadline_state(case.due_at, case.met_at, case.returned_at, now)
    if state is None or case.due_at is None:
        return None
    return CaseDeadline(
        state=state,
        due_at=case.due_at.astimezone(dt.UTC),
        met_at=_utc(case.met_at),
        moment=case.moment,
        met_by=list(case.met_by),
    )


def case_views(cases: Iterable[CaseFact], now: dt.datetime) -> list[CaseView]:
    """The report's cases as its read shows them, at `now` (UTC): codes, ids and times only,
    the same for every reader (no personal data is in them)."""
    return [
        CaseView(
            case_id=case.case_id,
            unit=case.unit,
            state=state_of(case),
            routed_at=case.routed_at.astimezone(dt.UTC),
            received_at=_utc(case.received_at),
            returned_at=_utc(case.returned_at),
            return_reason=case.return_reason,
            closed_at=_utc(case.closed_at),
            outcome=case.outcome,
            deadline=deadline_of(case, now),
        )
        for case in cases
    ]
