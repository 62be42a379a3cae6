"""Times without an offset around the change of clock, in every time field of every format."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.report import Report
from services.common.standardise import standardise
from services.intake.adapters import ADAPTERS
from services.intake.service import from_source

REF = reference.load()
RECEIVED = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples" / "sources"
UTC = dt.UTC
# Europe/Oslo 2026: 02:00-03:00 on 29 March does not exist (summer time from 01:00 UTC);
# 02:00-03:00 on 25 October happens twice (winter time from 01:00 UTC).
GAP, FOLD = "2026-03-29T02:30:00", "2026-10-25T02:30:00"


def canonical(**changes: Any) -> Report:
    body: dict[str, Any] = {
        "source": "s",
        "external_id": "x",
        "reported_at": "2026-11-30T10:00:00+01:00",
        "incident": {"occurred_from": "2026-11-30T09:00:00", "description": "d"},
        "offences": [{"code": "strl-321"}],
    }
    for key, value in changes.items():
        body[key] = {**body[key], **value} if isinstance(value, dict) else value
    return standardise(msgspec.convert(body, Report), REF, RECEIVED)


def found(report: Report) -> set[tuple[str, str]]:
    return {(q.code, q.path) for q in report.quality_issues}


def test_a_canonical_time_without_offset_in_the_gap_is_moved_and_flagged() -> None:
    out = canonical(incident={"occurred_from": GAP})
    assert out.incident.occurred_from == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert found(out) == {("time.nonexistent", "$.incident.occurred_from")}


@pytest.mark.parametrize(
    ("changes", "path", "instant"),
    [
        ({"reported_at": FOLD}, "$.reported_at", dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
        (
            {"persons": [{"role": "suspect", "birth_date": "1990-01-01", "arrested_at": FOLD}]},
            "$.persons[0].arrested_at",
            # The earlier instant: the custody deadline runs from it, so it is the safe one.
            dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        ),
    ],
)
def test_every_time_field_that_happens_twice_takes_the_earlier_instant(
    changes: dict[str, Any], path: str, instant: dt.datetime
) -> None:
    out = canonical(incident={"occurred_from": "2026-10-24T22:00:00"}, **changes)
    assert ("time.ambiguous", path) in found(out)
    got = out.reported_at if path == "$.reported_at" else out.persons[0].arrested_at
    assert got == instant


def test_a_period_both_of_whose_ends_happen_twice_is_flagged_twice() -> None:
    out = canonical(
        incident={"occurred_from": "2026-10-25T02:10:00", "occurred_to": "2026-10-25T02:50:00"}
    )
    assert found(out) == {
        ("time.ambiguous", "$.incident.occurred_from"),
        ("time.ambiguous", "$.incident.occurred_to"),
    }
    assert out.incident.occurred_from == dt.datetime(2026, 10, 25, 0, 10, tzinfo=UTC)
    assert out.incident.occurred_to == dt.datetime(2026, 10, 25, 0, 50, tzinfo=UTC)


def test_a_canonical_period_across_the_autumn_change_is_twenty_minutes() -> None:
    out = canonical(
        incident={"occurred_from": "2026-10-25T02:50:00", "occurred_to": "2026-10-25T02:10:00"}
    )
    assert out.incident.occurred_to is not None
    assert out.incident.occurred_to - out.incident.occurred_from == dt.timedelta(minutes=20)
    assert out.quality_issues == []


def test_times_with_an_offset_are_never_flagged() -> None:
    out = canonical(
        reported_at="2026-10-25T02:30:00+01:00",
        incident={"occurred_from": "2026-03-29T02:30:00+01:00"},
    )
    assert found(out) == set()


def test_a_patrol_time_without_offset_is_read_the_same_way() -> None:
    body: dict[str, Any] = json.loads((EXAMPLES / "patrol.json").read_text("utf-8"))
    body.update(started="2026-03-29T02:30:00", ended=None, logged_at="2026-03-29T04:00:00")
    body = {k: v for k, v in body.items() if v is not None}
    adapter = ADAPTERS["patrol"]
    report = from_source(adapter, msgspec.convert(body, adapter.struct), REF)
    out = standardise(report, REF, RECEIVED)
    assert ("time.nonexistent", "$.incident.occurred_from") in found(out)
    assert out.incident.occurred_from == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_an_incident_after_its_report_is_still_flagged_when_every_reading_says_so() -> None:
    out = canonical(
        reported_at="2026-03-29T01:00:00", incident={"occurred_from": "2026-03-29T02:30:00"}
    )
    # Reported 01:00 CET (00:00 UTC); 02:30 means 00:30 or 01:30 UTC: later either way.
    assert ("time.incident_after_report", "$.incident.occurred_from") in found(out)
