"""Case events judged and applied to a held case, and its deadline's state: pure, no I/O."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from dataclasses import dataclass

from schemas.caseevents import CaseEvent, CaseEventKind, field_problems

# How far a unit's clock may run ahead of ours (an event "in the future" by less is taken as
# now), and how far a `received` may be dated before the routing (the two clocks differ).
SKEW = dt.timedelta(minutes=2)

# Things that happen in the world before the case reaches the unit (an arrested person is
# brought before the court, released, or interviewed while the report travels): they may be
# dated before the routing. Every other kind is the unit's own act on the case it holds.
_IN_THE_WORLD = frozenset(
    {CaseEventKind.BROUGHT_BEFORE_COURT, CaseEventKind.INTERVIEW_HELD, CaseEventKind.RELEASED}
)


@dataclass(frozen=True, slots=True)
class HeldCase:
    """A case a unit holds (a row of `unit_cases`): `case_id` the report id for a rules'
    case, the deciding act's id for a person's; times are UTC; `last_event_at` the latest
    `occurred_at` of its events; `due_at` its deadline (None: none), `met_by` the event
    kinds that meet it and `met_at` the earliest time of one; `priority` the decision's
    (`critical`, `high`, `normal`, `low`); `deadline_moment` what the deadline runs from
    (`arrest`, `report`, `incident`) and `deadline_from` when that was (None: not known)."""

    case_id: uuid.UUID
    report_id: uuid.UUID
    unit: str
    routed_at: dt.datetime
    received_at: dt.datetime | None
    returned_at: dt.datetime | None
    closed_at: dt.datetime | None
    last_event_at: dt.datetime | None
    due_at: dt.datetime | None
    met_by: frozenset[str]
    met_at: dt.datetime | None
    priority: str
    deadline_moment: str | None = None
    deadline_from: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as `case_events` holds it: what the unit said (codes and times, UTC), when
    it was recorded, by which client (API client id, or `amqp:` + broker user) and door."""

    event_id: uuid.UUID
    case_id: uuid.UUID
    report_id: uuid.UUID
    unit: str
    kind: CaseEventKind
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    reason: str | None
    outcome: str | None
    client: str
    via: str


class Refusal(enum.StrEnum):
    """Why an event is not applied (a refused event changes nothing); `status` is the HTTP
    status the intake answers it with."""

    NOT_HELD = "not_held"  # no case of this report held by this unit (or no such report)
    CONFLICT = "conflict"  # the event id is taken by an event of other content
    AFTER_CLOSURE = "after_closure"  # dated after the case's `closed`, or the case closed
    ALREADY_RECEIVED = "already_received"  # a second `received` (another event id)
    BEFORE_ROUTING = "before_routing"  # the unit's act dated before the case was routed
    BEFORE_MOMENT = "before_moment"  # meets the deadline, dated before what it counts from
    IN_FUTURE = "in_future"  # later than now (beyond the skew)
    CLOSED_BEFORE_EVENTS = "closed_before_events"  # `closed` dated before a recorded event
    INVALID = "invalid"  # the cross-field rules (schemas.caseevents.field_problems)

    @property
    def status(self) -> int:
        """404 not held, 422 invalid or in the future, 409 the rest (order, conflict)."""
        return _STATUS.get(self, 409)


_STATUS = {Refusal.NOT_HELD: 404, Refusal.INVALID: 422, Refusal.IN_FUTURE: 422}


def iso(moment: dt.datetime) -> str:
    """A time as the messages name it: ISO 8601 in UTC, to the second (`...Z`)."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def judge(event: CaseEvent, case: HeldCase | None, now: dt.datetime) -> tuple[Refusal, str] | None:
    """Whether `event` may be applied to `case` (the case its unit holds of its report, None
    when none) at `now`: None when it may, else the refusal and a plain message naming the
    kinds and times (UTC), never personal data. A repeat (same event id) is the store's to
    find before this. The order rules: nothing is dated after a `closed` (a `closed`
    arriving first and an earlier-dated event after it is fine), a `closed` is not dated
    before an event recorded already, one `received` per case, and the unit's own acts
    (all but brought_before_court, interview_held, released) are not dated before the
    routing, and an event that meets the case's deadline is not dated before the moment it
    counts from (a release before the arrest), each beyond a skew of two minutes for
    clocks."""
    problems = field_problems(event)
    if problems:
        return Refusal.INVALID, "; ".join(f"{path} {message}" for path, message in problems)
    at, kind = event.occurred_at, event.kind
    if at > now + SKEW:
        return Refusal.IN_FUTURE, f"occurred_at {iso(at)} is later than now ({iso(now)})"
    if case is None or case.returned_at is not None:
        return Refusal.NOT_HELD, f"unit {event.unit} holds no case of report {event.report_id}"
    if case.closed_at is not None:
        if kind in (CaseEventKind.CLOSED, CaseEventKind.RETURNED):
            return Refusal.AFTER_CLOSURE, f"the case was closed at {iso(case.closed_at)} already"
        if at > case.closed_at:
            return Refusal.AFTER_CLOSURE, (
                f"`{kind}` at {iso(at)} is dated after the case was closed at {iso(case.closed_at)}"
            )
    if kind is CaseEventKind.CLOSED and case.last_event_at is not None and at < case.last_event_at:
        return Refusal.CLOSED_BEFORE_EVENTS, (
            f"`closed` at {iso(at)} is dated before an event recorded at {iso(case.last_event_at)}"
        )
    if kind is CaseEventKind.RECEIVED and case.received_at is not None:
        return Refusal.ALREADY_RECEIVED, (
            f"the case was received at {iso(case.received_at)} already (another event id)"
        )
    if kind not in _IN_THE_WORLD and at < case.routed_at - SKEW:
        return Refusal.BEFORE_ROUTING, (
            f"`{kind}` at {iso(at)} is dated before the case was routed at {iso(case.routed_at)}"
        )
    start = case.deadline_from
    if kind in case.met_by and case.due_at is not None and start is not None and at < start - SKEW:
        return Refusal.BEFORE_MOMENT, (
            f"`{kind}` at {iso(at)} is dated before the {case.deadline_moment or 'moment'} its "
            f"deadline counts from ({iso(start)})"
        )
    return None


def applied(case: HeldCase, event: CaseEvent) -> HeldCase:
    """The case after `event` (judged applicable): its received, returned or closed time
    set, its latest event time, and `met_at` lowered to the event's time when the event's
    kind meets the deadline and is earlier than what met it so far."""
    at, kind = event.occurred_at.astimezone(dt.UTC), event.kind
    met_at = case.met_at
    if case.due_at is not None and kind in case.met_by and (met_at is None or at < met_at):
        met_at = at
    return dataclasses.replace(
        case,
        received_at=at if kind is CaseEventKind.RECEIVED else case.received_at,
        returned_at=at if kind is CaseEventKind.RETURNED else case.returned_at,
        closed_at=at if kind is CaseEventKind.CLOSED else case.closed_at,
        last_event_at=at if case.last_event_at is None else max(case.last_event_at, at),
        met_at=met_at,
    )


class DeadlineState(enum.StrEnum):
    """Where a case's deadline stands: `open` (not met, not due), `met_on_time` (met at or
    before it was due), `met_late`, `missed` (due, not met; also when the unit returned the
    case only after it fell due), `ended` (the case was returned, unmet, by the time it was
    due: no longer this unit's)."""

    OPEN = "open"
    MET_ON_TIME = "met_on_time"
    MET_LATE = "met_late"
    MISSED = "missed"
    ENDED = "ended"


def deadline_state(
    due_at: dt.datetime | None,
    met_at: dt.datetime | None,
    returned_at: dt.datetime | None,
    now: dt.datetime,
) -> DeadlineState | None:
    """The state of a deadline due at `due_at` (None: the case has none, and so no state),
    met at `met_at` (None: not yet), the case returned at `returned_at`, at `now`. Met
    exactly when due is on time; due exactly now is missed; returned exactly when due
    ended it. As the 30-day share counts them (`figures.py`: a case returned after its
    deadline fell due unmet counts as due and not met)."""
    if due_at is None:
        return None
    if met_at is not None:
        return DeadlineState.MET_ON_TIME if met_at <= due_at else DeadlineState.MET_LATE
    if returned_at is not None:
        return DeadlineState.ENDED if returned_at <= due_at else DeadlineState.MISSED
    return DeadlineState.OPEN if now < due_at else DeadlineState.MISSED
