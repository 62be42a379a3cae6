"""Case events judged against the case a unit holds, applied, and deadlines' states."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import pytest

from schemas.caseevents import CaseEvent, CaseEventKind, CaseOutcome, ReturnReason, field_problems
from services.common.caseevents.model import (
    SKEW,
    DeadlineState,
    HeldCase,
    Refusal,
    applied,
    deadline_state,
    iso,
    judge,
)

K = CaseEventKind
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
ROUTED = NOW - dt.timedelta(hours=2)
REPORT = uuid.UUID(int=7)
UNIT = "oslo.felles-straffesaksinntak"
SECOND = dt.timedelta(seconds=1)


def held(**changes: Any) -> HeldCase:
    case = HeldCase(
        case_id=REPORT,
        report_id=REPORT,
        unit=UNIT,
        routed_at=ROUTED,
        received_at=None,
        returned_at=None,
        closed_at=None,
        last_event_at=None,
        due_at=None,
        met_by=frozenset(),
        met_at=None,
        priority="high",
    )
    return dataclasses.replace(case, **changes)


def event(kind: CaseEventKind, at: dt.datetime, **more: Any) -> CaseEvent:
    if kind is K.RETURNED:
        more.setdefault("reason", ReturnReason.WRONG_UNIT)
    if kind in (K.CLOSED, K.PROSECUTION_DECISION):
        more.setdefault("outcome", CaseOutcome.DISMISSED)
    return CaseEvent(
        event_id=uuid.uuid4(), unit=UNIT, kind=kind, occurred_at=at, report_id=REPORT, **more
    )


def refusal(verdict: tuple[Refusal, str] | None) -> Refusal | None:
    return None if verdict is None else verdict[0]


def replay(case: HeldCase, *events: CaseEvent) -> tuple[HeldCase, list[Refusal | None]]:
    """The events judged in order, each applied when allowed (as the store does)."""
    verdicts = []
    for one in events:
        verdict = judge(one, case, NOW)
        verdicts.append(refusal(verdict))
        if verdict is None:
            case = applied(case, one)
    return case, verdicts


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(K))
def test_every_kind_may_be_applied_to_a_fresh_case(kind: CaseEventKind) -> None:
    assert judge(event(kind, NOW - dt.timedelta(minutes=30)), held(), NOW) is None


def test_no_case_is_not_held() -> None:
    verdict = judge(event(K.RECEIVED, NOW), None, NOW)
    assert verdict is not None
    assert verdict[0] is Refusal.NOT_HELD
    assert verdict[1] == f"unit {UNIT} holds no case of report {REPORT}"


@pytest.mark.parametrize("kind", list(K))
def test_a_returned_case_refuses_everything_as_not_held(kind: CaseEventKind) -> None:
    case = held(returned_at=NOW - dt.timedelta(hours=1))
    assert refusal(judge(event(kind, NOW - dt.timedelta(minutes=90)), case, NOW)) is (
        Refusal.NOT_HELD
    )


def test_field_problems_are_invalid_before_anything_else() -> None:
    bad = event(K.RECEIVED, NOW, reason=ReturnReason.INCOMPLETE)
    verdict = judge(bad, None, NOW)
    assert verdict is not None
    assert verdict[0] is Refusal.INVALID
    assert verdict[1] == "$.reason is only for `returned`, not `received`"
    naive = event(K.RECEIVED, NOW.replace(tzinfo=None))
    assert refusal(judge(naive, held(), NOW)) is Refusal.INVALID


@pytest.mark.parametrize(
    ("written", "within"),
    [
        # The years a report's times may have (schemas.report: 1900-2100), in UTC.
        ("0001-01-01T00:00:00+14:00", False),  # overflows when moved to UTC
        ("0001-01-01T00:00:00+00:00", False),  # PostgreSQL would store -infinity
        ("1900-01-01T00:30:00+01:00", False),  # 1899 in UTC
        ("1899-12-31T23:30:00-01:00", True),  # 1900 in UTC
        ("2100-12-31T23:59:59+00:00", True),
        ("2101-01-01T00:30:00+01:00", True),  # 2100 in UTC
        ("9999-12-31T23:59:59-14:00", False),  # overflows
    ],
)
def test_a_time_outside_the_years_of_a_report_is_invalid(written: str, within: bool) -> None:
    at = dt.datetime.fromisoformat(written)
    problems = field_problems(event(K.RELEASED, at))
    assert problems == (
        [] if within else [("$.occurred_at", "must lie between 1900 and 2100 (UTC)")]
    )
    assert (refusal(judge(event(K.RELEASED, at), None, NOW)) is Refusal.INVALID) is not within


def test_in_the_future_beyond_the_skew_only() -> None:
    assert judge(event(K.RECEIVED, NOW + SKEW), held(), NOW) is None
    verdict = judge(event(K.RECEIVED, NOW + SKEW + SECOND), held(), NOW)
    assert verdict == (
        Refusal.IN_FUTURE,
        "occurred_at 2026-12-01T12:02:01Z is later than now (2026-12-01T12:00:00Z)",
    )


def test_received_before_routing_beyond_the_skew_only() -> None:
    assert judge(event(K.RECEIVED, ROUTED - SKEW), held(), NOW) is None
    verdict = judge(event(K.RECEIVED, ROUTED - SKEW - SECOND), held(), NOW)
    assert verdict == (
        Refusal.BEFORE_ROUTING,
        "`received` at 2026-12-01T09:57:59Z is dated before the case was routed at"
        " 2026-12-01T10:00:00Z",
    )


@pytest.mark.parametrize("kind", [K.RETURNED, K.PROSECUTION_DECISION, K.CLOSED])
def test_the_units_own_acts_are_not_dated_before_routing(kind: CaseEventKind) -> None:
    assert refusal(judge(event(kind, ROUTED - SKEW - SECOND), held(), NOW)) is (
        Refusal.BEFORE_ROUTING
    )


@pytest.mark.parametrize("kind", [K.BROUGHT_BEFORE_COURT, K.INTERVIEW_HELD, K.RELEASED])
def test_what_happens_in_the_world_may_be_dated_before_routing(kind: CaseEventKind) -> None:
    assert judge(event(kind, ROUTED - dt.timedelta(days=1)), held(), NOW) is None


# Custody (straffeprosessloven § 183): counted from the arrest, ended by the court hearing or
# a release, neither of which can come before the arrest.
ARREST = ROUTED - dt.timedelta(hours=5)
CUSTODY = {
    "due_at": ARREST + dt.timedelta(days=3),
    "met_by": frozenset({"brought_before_court", "released"}),
    "deadline_moment": "arrest",
    "deadline_from": ARREST,
}


@pytest.mark.parametrize("kind", [K.BROUGHT_BEFORE_COURT, K.RELEASED])
def test_what_meets_a_deadline_is_not_dated_before_its_moment(kind: CaseEventKind) -> None:
    case = held(**CUSTODY)
    early = ARREST - SKEW - SECOND
    verdict = judge(event(kind, early), case, NOW)
    assert verdict == (
        Refusal.BEFORE_MOMENT,
        f"`{kind}` at {iso(early)} is dated before the arrest its deadline counts from "
        f"({iso(ARREST)})",
    )
    # Within the clocks' skew, and after the arrest (before the routing), it meets it.
    assert judge(event(kind, ARREST - SKEW), case, NOW) is None
    assert judge(event(kind, ARREST + SECOND), case, NOW) is None
    assert applied(case, event(kind, ARREST + SECOND)).met_at == ARREST + SECOND


def test_the_moment_bounds_only_what_meets_the_deadline() -> None:
    # An interview is no end of custody: dated before the arrest, it is taken as it is.
    case = held(**CUSTODY)
    assert judge(event(K.INTERVIEW_HELD, ARREST - dt.timedelta(days=2)), case, NOW) is None
    # No moment known (a decision from before it was recorded): not bounded.
    unknown = held(**{**CUSTODY, "deadline_from": None})
    assert judge(event(K.RELEASED, ARREST - dt.timedelta(days=2)), unknown, NOW) is None


def test_a_second_received_is_refused() -> None:
    case, verdicts = replay(
        held(), event(K.RECEIVED, NOW - dt.timedelta(hours=1)), event(K.RECEIVED, NOW)
    )
    assert verdicts == [None, Refusal.ALREADY_RECEIVED]
    assert case.received_at == NOW - dt.timedelta(hours=1)
    message = judge(event(K.RECEIVED, NOW), case, NOW)
    assert message is not None
    assert message[1] == (
        "the case was received at 2026-12-01T11:00:00Z already (another event id)"
    )


def test_after_closure_nothing_later_is_true() -> None:
    closed = NOW - dt.timedelta(minutes=30)
    case = applied(held(), event(K.CLOSED, closed))
    assert judge(event(K.RELEASED, closed), case, NOW) is None  # the same moment: fine
    verdict = judge(event(K.RECEIVED, closed + SECOND), case, NOW)
    assert verdict == (
        Refusal.AFTER_CLOSURE,
        "`received` at 2026-12-01T11:30:01Z is dated after the case was closed at"
        " 2026-12-01T11:30:00Z",
    )


def test_closed_first_and_an_earlier_received_after_it_is_fine() -> None:
    closed_at = NOW - dt.timedelta(minutes=10)
    received_at = NOW - dt.timedelta(minutes=50)
    case, verdicts = replay(held(), event(K.CLOSED, closed_at), event(K.RECEIVED, received_at))
    assert verdicts == [None, None]
    assert (case.closed_at, case.received_at, case.last_event_at) == (
        closed_at,
        received_at,
        closed_at,
    )


@pytest.mark.parametrize("kind", [K.CLOSED, K.RETURNED])
def test_a_closed_case_is_neither_closed_again_nor_returned(kind: CaseEventKind) -> None:
    case = applied(held(), event(K.CLOSED, NOW - dt.timedelta(minutes=10)))
    verdict = judge(event(kind, NOW - dt.timedelta(minutes=20)), case, NOW)
    assert verdict == (
        Refusal.AFTER_CLOSURE,
        "the case was closed at 2026-12-01T11:50:00Z already",
    )


def test_closed_dated_before_an_event_recorded_is_refused() -> None:
    case = applied(held(), event(K.INTERVIEW_HELD, NOW - dt.timedelta(minutes=10)))
    assert judge(event(K.CLOSED, NOW - dt.timedelta(minutes=10)), case, NOW) is None
    verdict = judge(event(K.CLOSED, NOW - dt.timedelta(minutes=10) - SECOND), case, NOW)
    assert verdict == (
        Refusal.CLOSED_BEFORE_EVENTS,
        "`closed` at 2026-12-01T11:49:59Z is dated before an event recorded at"
        " 2026-12-01T11:50:00Z",
    )


def test_events_of_one_case_are_judged_in_order() -> None:
    first = event(K.RECEIVED, NOW - dt.timedelta(minutes=60))
    back = event(K.RETURNED, NOW - dt.timedelta(minutes=30))
    late = event(K.INTERVIEW_HELD, NOW - dt.timedelta(minutes=45))
    _, verdicts = replay(held(), first, back, late)
    assert verdicts == [None, None, Refusal.NOT_HELD]
    _, verdicts = replay(held(), first, late, back)
    assert verdicts == [None, None, None]


def test_messages_name_no_personal_data_only_kinds_times_and_ids() -> None:
    case = applied(held(), event(K.CLOSED, NOW - dt.timedelta(minutes=10)))
    verdict = judge(event(K.RELEASED, NOW), case, NOW)
    assert verdict is not None
    assert verdict[1].isascii()
    assert "T" in verdict[1] and verdict[1].count("Z") == 2  # noqa: PT018 (two ISO times)


@pytest.mark.parametrize(
    ("refused", "status"),
    [
        (Refusal.NOT_HELD, 404),
        (Refusal.INVALID, 422),
        (Refusal.IN_FUTURE, 422),
        (Refusal.CONFLICT, 409),
        (Refusal.AFTER_CLOSURE, 409),
        (Refusal.ALREADY_RECEIVED, 409),
        (Refusal.BEFORE_ROUTING, 409),
        (Refusal.CLOSED_BEFORE_EVENTS, 409),
    ],
)
def test_each_refusal_has_its_http_status(refused: Refusal, status: int) -> None:
    assert refused.status == status


def test_times_are_named_in_utc_to_the_second() -> None:
    oslo = dt.timezone(dt.timedelta(hours=1))
    assert iso(dt.datetime(2026, 12, 1, 13, 0, 5, 999, tzinfo=oslo)) == "2026-12-01T12:00:05Z"


# --- applied ---------------------------------------------------------------------------------


def test_applied_sets_the_times_of_its_kind_and_the_latest_event() -> None:
    oslo = dt.timezone(dt.timedelta(hours=1))
    at = (NOW - dt.timedelta(minutes=5)).astimezone(oslo)
    case = applied(held(last_event_at=NOW - dt.timedelta(minutes=1)), event(K.RETURNED, at))
    assert case.returned_at == at
    assert case.returned_at.utcoffset() == dt.timedelta(0)
    assert case.last_event_at == NOW - dt.timedelta(minutes=1)
    assert (case.received_at, case.closed_at, case.met_at) == (None, None, None)


def test_met_at_is_the_earliest_event_that_meets_the_deadline() -> None:
    case = held(due_at=NOW, met_by=frozenset({"brought_before_court", "released"}))
    case, _ = replay(
        case,
        event(K.INTERVIEW_HELD, NOW - dt.timedelta(hours=1)),  # meets nothing here
        event(K.RELEASED, NOW - dt.timedelta(minutes=10)),
        event(K.BROUGHT_BEFORE_COURT, NOW - dt.timedelta(minutes=20)),  # later, dated earlier
        event(K.BROUGHT_BEFORE_COURT, NOW - dt.timedelta(minutes=5)),
    )
    assert case.met_at == NOW - dt.timedelta(minutes=20)


def test_without_a_deadline_nothing_is_met() -> None:
    case = applied(held(met_by=frozenset({"released"})), event(K.RELEASED, NOW))
    assert case.met_at is None


# --- deadline state --------------------------------------------------------------------------

DUE = NOW


@pytest.mark.parametrize(
    ("met_at", "returned_at", "now", "state"),
    [
        (None, None, DUE - SECOND, DeadlineState.OPEN),
        (None, None, DUE, DeadlineState.MISSED),
        (DUE, None, DUE + dt.timedelta(days=1), DeadlineState.MET_ON_TIME),
        (DUE + SECOND, None, DUE + dt.timedelta(days=1), DeadlineState.MET_LATE),
        (DUE - SECOND, DUE, DUE + dt.timedelta(days=1), DeadlineState.MET_ON_TIME),
        (None, DUE - SECOND, DUE - dt.timedelta(hours=1), DeadlineState.ENDED),
        (None, DUE - SECOND, DUE + dt.timedelta(days=1), DeadlineState.ENDED),
        (None, DUE, DUE + dt.timedelta(days=1), DeadlineState.ENDED),
        # Returned after it fell due, never met: missed while this unit held it.
        (None, DUE + SECOND, DUE + dt.timedelta(days=1), DeadlineState.MISSED),
    ],
)
def test_deadline_states_at_their_boundaries(
    met_at: dt.datetime | None,
    returned_at: dt.datetime | None,
    now: dt.datetime,
    state: DeadlineState,
) -> None:
    assert deadline_state(DUE, met_at, returned_at, now) is state


def test_no_deadline_no_state() -> None:
    assert deadline_state(None, NOW, None, NOW) is None
