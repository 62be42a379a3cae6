"""A person of unknown age never costs a report its legal deadline (the default rules).

The right values come from the law: strpl. § 183 (custody: adults by the third day after the
arrest, under-18s the day after, computed by the rules as 3 and 1 days from the arrest),
strpl. § 249 (six weeks for a suspect under 18), forskrift 24.09.2015 nr. 1098
(barnehusavhør: one week for a recent act, else two weeks for a victim under 6). With the age
unknown the strictest of the deadlines that could apply is the one given.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.decision import Decision, Priority
from schemas.report import Report
from services.common.rules.engine import decide
from services.common.rules.ruleset import load_ruleset
from services.common.standardise import Options, standardise

ROOT = Path(__file__).parents[3]
REF = reference.load()
DEFAULT = load_ruleset(ROOT / "deploy/routing/rules.yaml", ROOT / "deploy/routing/units.yaml", REF)
EXAMPLE = ROOT / "tests/data/real_inputs/arrest-unknown-age.json"
CET = dt.timezone(dt.timedelta(hours=1))
AGE_UNKNOWN_RULES = {
    "custody-age-unknown",
    "barnehus-recent-age-unknown",
    "barnehus-age-unknown",
    "youth-suspect-age-unknown",
}


def decided(body: dict[str, Any], now: dt.datetime) -> Decision:
    report = standardise(
        msgspec.convert(body, Report), REF, now, Options(accept_synthetic_ids=True)
    )
    return decide(report, uuid.uuid4(), DEFAULT, now)


def test_the_example_arrest_of_unknown_age_gets_the_custody_deadline_of_the_day_after() -> None:
    known, unknown = json.loads(EXAMPLE.read_text("utf-8"))
    now = dt.datetime(2026, 11, 30, 10, 5, tzinfo=CET)
    adult = decided(known["report"], now)
    assert adult.deadline is not None
    assert adult.deadline.rule_id == "custody-adult"
    assert adult.deadline.due_at == dt.datetime(2026, 12, 3, 9, 30, tzinfo=CET)
    assert adult.priority is Priority.CRITICAL
    nameless = decided(unknown["report"], now)
    assert nameless.deadline is not None
    assert nameless.deadline.rule_id == "custody-age-unknown"
    # strpl. § 183 for under-18s: the day after the arrest at 09:30, as custody-youth computes
    assert nameless.deadline.due_at == dt.datetime(2026, 12, 1, 9, 30, tzinfo=CET)
    assert "straffeprosessloven § 183" in nameless.deadline.basis
    assert nameless.priority is Priority.CRITICAL


PATROL: dict[str, Any] = {
    "source": "patrulje",
    "external_id": "x",
    "reported_at": "2026-11-30T10:00:00+01:00",
    "incident": {
        "occurred_from": "2026-11-30T09:00:00+01:00",
        "municipality": "0301",
        "description": "Syntetisk testsak.",
    },
    "offences": [{"code": "strl-322"}],
}
ARREST = "2026-11-30T09:30:00+01:00"


@pytest.mark.parametrize(
    ("persons", "rule", "due"),
    [
        # an identity number that fails its check digits gives no age either
        (
            [{"role": "suspect", "national_id": "12345678901", "arrested_at": ARREST}],
            "custody-age-unknown",
            dt.datetime(2026, 12, 1, 9, 30, tzinfo=CET),
        ),
        # an adult arrested first, a suspect of unknown age later: the earliest arrest counts
        (
            [
                {"role": "suspect", "birth_date": "1990-01-01", "arrested_at": ARREST},
                {"role": "suspect", "arrested_at": "2026-11-30T11:00:00+01:00"},
            ],
            "custody-age-unknown",
            dt.datetime(2026, 12, 1, 9, 30, tzinfo=CET),
        ),
        # not arrested, age unknown: the six weeks of § 249 from the report
        (
            [{"role": "suspect"}],
            "youth-suspect-age-unknown",
            dt.datetime(2027, 1, 11, 10, 0, tzinfo=CET),
        ),
    ],
)
def test_a_suspect_of_unknown_age_keeps_the_strictest_deadline(
    persons: list[dict[str, Any]], rule: str, due: dt.datetime
) -> None:
    decision = decided({**PATROL, "persons": persons}, dt.datetime(2026, 11, 30, 10, 5, tzinfo=CET))
    assert decision.deadline is not None
    assert (decision.deadline.rule_id, decision.deadline.due_at) == (rule, due)


@pytest.mark.parametrize(
    ("occurred", "offence", "rule", "due"),
    [
        # the act a day old: one week from the report
        ("2026-11-29T22:00:00+01:00", "strl-282", "barnehus-recent-age-unknown", 7),
        # the act weeks old: two weeks, the limit for a victim under 6
        ("2026-10-01T12:00:00+02:00", "strl-298", "barnehus-age-unknown", 14),
    ],
)
def test_a_victim_of_unknown_age_keeps_the_barnehus_deadline(
    occurred: str, offence: str, rule: str, due: int
) -> None:
    body = {
        **PATROL,
        "incident": {**PATROL["incident"], "occurred_from": occurred},
        "offences": [{"code": offence}],
        "persons": [{"role": "victim"}],
    }
    decision = decided(body, dt.datetime(2026, 11, 30, 10, 5, tzinfo=CET))
    assert decision.deadline is not None
    assert decision.deadline.rule_id == rule
    reported = dt.datetime(2026, 11, 30, 10, 0, tzinfo=CET)
    assert decision.deadline.due_at == reported + dt.timedelta(days=due)


def test_a_known_age_is_not_read_as_unknown() -> None:
    adult_victim = {**PATROL, "persons": [{"role": "victim", "birth_date": "1980-05-05"}]}
    decision = decided(adult_victim, dt.datetime(2026, 11, 30, 10, 5, tzinfo=CET))
    assert decision.deadline is None
    assert not AGE_UNKNOWN_RULES & set(decision.matched_rules)
