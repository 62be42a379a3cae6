"""Local times around the change of clock: which instants a time without offset can mean."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.localtime import Kind, period, readings
from schemas.report import Incident, as_utc

UTC = dt.UTC


def last_sunday(year: int, month: int) -> dt.date:
    """The last Sunday of March or October (both have 31 days)."""
    day = dt.date(year, month, 31)
    return day - dt.timedelta(days=(day.weekday() - 6) % 7)


# The EU rules Norway follows since 1996 (tz database, Europe/Oslo): summer time starts the
# last Sunday of March at 01:00 UTC (02:00 CET becomes 03:00 CEST) and ends the last Sunday
# of October at 01:00 UTC (03:00 CEST becomes 02:00 CET).
years = st.integers(1996, 2037)
minutes = st.integers(0, 59)


@given(year=years, minute=minutes)
def test_a_time_in_the_spring_gap_does_not_exist_and_moves_forward_by_the_gap(
    year: int, minute: int
) -> None:
    day = last_sunday(year, 3)
    wall = dt.datetime.combine(day, dt.time(2, minute))
    found = readings(wall)
    assert found.kind is Kind.NONEXISTENT
    # Read with the offset before the change (+01:00): 02:30 is 01:30 UTC, 03:30 CEST.
    assert found.chosen == dt.datetime.combine(day, dt.time(1, minute), UTC)
    assert found.other == dt.datetime.combine(day, dt.time(0, minute), UTC)


@given(year=years, minute=minutes)
def test_a_time_in_the_autumn_fold_happens_twice_and_the_earlier_is_chosen(
    year: int, minute: int
) -> None:
    day = last_sunday(year, 10)
    wall = dt.datetime.combine(day, dt.time(2, minute))
    found = readings(wall)
    assert found.kind is Kind.AMBIGUOUS
    assert found.chosen == dt.datetime.combine(day, dt.time(0, minute), UTC)  # 02:xx CEST
    assert found.other == dt.datetime.combine(day, dt.time(1, minute), UTC)  # 02:xx CET
    assert as_utc(wall) == found.chosen


@given(year=years)
def test_times_beside_the_changes_are_ordinary(year: int) -> None:
    spring, autumn = last_sunday(year, 3), last_sunday(year, 10)
    cases = {
        dt.datetime.combine(spring, dt.time(1, 59)): dt.datetime.combine(spring, dt.time(0, 59)),
        dt.datetime.combine(spring, dt.time(3, 0)): dt.datetime.combine(spring, dt.time(1, 0)),
        dt.datetime.combine(autumn, dt.time(1, 59)): dt.datetime.combine(autumn, dt.time(23, 59))
        - dt.timedelta(days=1),
        dt.datetime.combine(autumn, dt.time(3, 0)): dt.datetime.combine(autumn, dt.time(2, 0)),
    }
    for wall, instant in cases.items():
        found = readings(wall)
        assert (found.kind, found.chosen, found.other) == (
            Kind.ORDINARY,
            instant.replace(tzinfo=UTC),
            None,
        )


def test_a_time_with_an_offset_means_one_instant() -> None:
    aware = dt.datetime(2026, 10, 25, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    found = readings(aware)
    assert (found.kind, found.chosen) == (
        Kind.ORDINARY,
        dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    )


def test_a_period_across_the_autumn_change_is_twenty_minutes() -> None:
    # 02:50 (summer time, 00:50 UTC) to 02:10 (winter time, 01:10 UTC) on 25 October 2026.
    start, end = dt.datetime(2026, 10, 25, 2, 50), dt.datetime(2026, 10, 25, 2, 10)
    first, last = period(readings(start), readings(end)) or (None, None)
    assert (first, last) == (
        dt.datetime(2026, 10, 25, 0, 50, tzinfo=UTC),
        dt.datetime(2026, 10, 25, 1, 10, tzinfo=UTC),
    )
    incident = msgspec.convert(
        {"occurred_from": start.isoformat(), "occurred_to": end.isoformat(), "description": "d"},
        Incident,
    )
    assert incident.occurred_to == end


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-10-25T03:30:00", "2026-10-25T02:10:00"),  # 01:30 UTC, and 02:10 at most 01:10 UTC
        ("2026-11-25T10:00:00", "2026-11-25T09:59:00"),
        ("2026-10-25T02:30:00+01:00", "2026-10-25T02:10:00+01:00"),
    ],
)
def test_a_period_no_reading_makes_is_still_refused(start: str, end: str) -> None:
    with pytest.raises(msgspec.ValidationError, match="before `occurred_from`"):
        msgspec.convert({"occurred_from": start, "occurred_to": end, "description": "d"}, Incident)
