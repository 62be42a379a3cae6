"""A deadline a person sets when routing: what meets it, so that it too ends met or missed."""

from __future__ import annotations

import datetime as dt

from schemas.caseevents import CaseEventKind
from schemas.decision import Deadline
from services.intake.triage.cases import PERSON_DEADLINE, person_deadline

OSLO = dt.timezone(dt.timedelta(hours=1))
# Custody: before a court by the third day after the arrest (straffeprosessloven § 183),
# ended by the hearing or by release, counted from the arrest.
CUSTODY = Deadline(
    due_at=dt.datetime(2026, 12, 3, 23, 0, tzinfo=dt.UTC),
    basis="straffeprosessloven § 183",
    rule_id="custody",
    met_by=[CaseEventKind.BROUGHT_BEFORE_COURT, CaseEventKind.RELEASED],
    moment="arrest",
)


def test_a_moved_rules_deadline_is_met_by_what_met_the_rules_one() -> None:
    moved = person_deadline(dt.datetime(2026, 12, 3, 12, 0, tzinfo=OSLO), CUSTODY)
    assert moved.due_at == dt.datetime(2026, 12, 3, 11, 0, tzinfo=dt.UTC)
    assert moved.due_at.utcoffset() == dt.timedelta(0)
    assert moved.met_by == [CaseEventKind.BROUGHT_BEFORE_COURT, CaseEventKind.RELEASED]
    assert moved.moment == "arrest"
    assert (moved.rule_id, moved.basis) == (
        PERSON_DEADLINE,
        "set by the person who decided (see the reason)",
    )


def test_a_deadline_where_the_rules_set_none_is_met_by_the_units_decision() -> None:
    own = person_deadline(dt.datetime(2027, 1, 15, 9, 0, tzinfo=dt.UTC), None)
    assert own.met_by == [CaseEventKind.PROSECUTION_DECISION, CaseEventKind.CLOSED]
    assert own.moment is None
