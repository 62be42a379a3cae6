"""One time form on the wire: a case's `x-fsi-deadline` header as its body writes `due_at`."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import msgspec
import pytest

from schemas.decision import Deadline, Decision, Priority
from services.routing.cases import CaseWire, case_headers

# RFC 3339 section 5.6 date-time, in UTC with `Z` (section 4.3).
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
OSLO_WINTER = dt.timezone(dt.timedelta(hours=1))


def decision(due_at: dt.datetime | None) -> Decision:
    return Decision(
        report_id=uuid.uuid4(),
        unit="oslo.vold-naere-relasjoner",
        priority=Priority.CRITICAL,
        amqp_priority=9,
        ruleset_version="v1",
        decided_at=dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC),
        deadline=None if due_at is None else Deadline(due_at, "strpl. § 183", "custody-adult"),
    )


def body_due_at(made: Decision) -> str:
    """`decision.deadline.due_at` as the case body carries it."""
    case = CaseWire(report_id=made.report_id, report=msgspec.Raw(b"{}"), decision=made)
    due_at: str = msgspec.json.decode(msgspec.json.encode(case))["decision"]["deadline"]["due_at"]
    return due_at


@pytest.mark.parametrize(
    "due_at",
    [
        dt.datetime(2026, 12, 3, 23, 59, 59, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 3, 23, 59, 59, 120000, tzinfo=dt.UTC),
        dt.datetime(2027, 3, 28, 1, 0, tzinfo=dt.UTC),
    ],
    ids=["whole seconds", "fractions", "the night the clocks change"],
)
def test_the_deadline_header_is_the_bodys_due_at(due_at: dt.datetime) -> None:
    made = decision(due_at)
    header = case_headers(made)["x-fsi-deadline"]
    assert header == body_due_at(made)
    assert RFC3339_UTC.match(header)


def test_a_deadline_held_with_an_offset_is_sent_in_utc() -> None:
    # 10:00 at +01:00 (Norwegian winter time) is 09:00 UTC.
    header = case_headers(decision(dt.datetime(2026, 12, 3, 10, 0, tzinfo=OSLO_WINTER)))
    assert header["x-fsi-deadline"] == "2026-12-03T09:00:00Z"


def test_no_deadline_no_header() -> None:
    assert "x-fsi-deadline" not in case_headers(decision(None))
