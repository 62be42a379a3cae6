"""Two birth dates that disagree: the age comes from the later (the strictest reading for every
age rule); an age that cannot be derived says what was missing or wrong."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.localtime import OSLO
from schemas.report import Report
from services.common.rules.engine import decide
from services.common.rules.ruleset import load_ruleset
from services.common.standardise import Options, standardise

REF = reference.load()
ROOT = Path(__file__).parents[3]
RECEIVED = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
INCIDENT = "2026-11-30T09:00:00+01:00"
ARRESTED = "2026-11-30T09:30:00+01:00"
# Check digits by the weights of the fødselsnummer standard (k1 3,7,6,1,8,9,4,5,2; k2
# 5,4,3,2,7,6,5,4,3,2; 11 - sum mod 11). Individual numbers 000-499 are born 1900-1999,
# 500-999 with a year 00-39 are born 2000-2039.
BORN_1910 = "15051000045"  # 15 May 1910: 116 on 30 November 2026
BORN_2012 = "15051250181"  # 15 May 2012: 14 on 30 November 2026
D_NUMBER_2012 = "55051250094"  # D-nummer (day + 40) of 15 May 2012
BORN_1_DEC_2008 = "01120850039"  # 1 December 2008: 17 on 30 November 2026
BORN_1990 = "24069000092"  # 24 June 1990: 36 on 30 November 2026
FH_NUMBER = "81234567802"  # FH-nummer: first digit 8 or 9, no birth date in it


def person(**fields: Any) -> Report:
    raw = msgspec.convert(
        {
            "source": "patrulje",
            "external_id": "x",
            "reported_at": "2026-11-30T10:00:00+01:00",
            "incident": {"occurred_from": INCIDENT, "description": "d"},
            "offences": [{"code": "strl-322"}],
            "persons": [{"role": "suspect", **fields}],
        },
        Report,
    )
    return standardise(raw, REF, RECEIVED, Options())


def issue(report: Report, code: str) -> str:
    (message,) = [q.message for q in report.quality_issues if q.code == code]
    return message


@pytest.mark.parametrize(
    ("national_id", "birth_date", "age"),
    [
        # The new user's case: the id says 116, the given date says 14: the child's age holds.
        (BORN_1910, "2012-05-15", 14),
        # The other way round: the id says 14, the given date 36.
        (BORN_2012, "1990-06-24", 14),
        (D_NUMBER_2012, "1990-06-24", 14),
        # One day apart across the 18th birthday: 17 by the id (born 1 December 2008), 18 by
        # the date given (30 November 2008): custody of an under-18 applies.
        (BORN_1_DEC_2008, "2008-11-30", 17),
    ],
)
def test_the_later_birth_date_gives_the_age(national_id: str, birth_date: str, age: int) -> None:
    out = person(national_id=national_id, birth_date=birth_date, arrested_at=ARRESTED)
    (standard,) = out.persons
    assert standard.age_at_incident == age
    assert standard.birth_date == dt.date.fromisoformat(birth_date)  # kept as sent
    message = issue(out, "person.birth_date_mismatch")
    assert "later" in message
    assert f"({age} at the incident" in message
    assert "person.age_unknown" not in {q.code for q in out.quality_issues}


def test_a_later_date_after_the_incident_gives_no_age_and_the_other_is_used() -> None:
    out = person(national_id=BORN_1990, birth_date="2027-01-01", arrested_at=ARRESTED)
    assert out.persons[0].age_at_incident == 36
    assert out.persons[0].birth_date == dt.date(2027, 1, 1)
    assert "the national id's birth date" in issue(out, "person.birth_date_mismatch")
    assert "birth_date as sent" in issue(out, "person.born_after_incident")


def test_standardising_again_finds_the_same() -> None:
    once = person(national_id=BORN_1910, birth_date="2012-05-15", arrested_at=ARRESTED)
    twice = standardise(once, REF, RECEIVED, Options())
    assert twice.persons == once.persons
    assert twice.quality_issues == once.quality_issues


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({}, "no national id, and no birth date"),
        ({"national_id": FH_NUMBER}, "an FH-number, which holds no birth date, and no birth date"),
        ({"birth_date": "2027-01-01"}, "no national id, and a birth date after the incident"),
        ({"national_id": "15108695077"}, "a national id that is not valid, and no birth date"),
        (
            {"national_id": FH_NUMBER, "birth_date": "2027-01-01"},
            "an FH-number, which holds no birth date, and a birth date after the incident",
        ),
        ({"national_id": "1234"}, "a national id that is not valid, and no birth date"),
        # Nothing visible in the number: not given.
        ({"national_id": "\u200b"}, "no national id, and no birth date"),
    ],
)
def test_an_unknown_age_says_what_was_missing_or_wrong(fields: dict[str, str], says: str) -> None:
    out = person(arrested_at=ARRESTED, **fields)
    message = issue(out, "person.age_unknown")
    assert f"({says})" in message
    assert "strpl. § 183" in message
    if "national_id" not in fields or fields["national_id"] == "\u200b":
        assert "national id that is not valid" not in message


def test_the_custody_deadline_follows_the_younger_age() -> None:
    # strpl. § 183: an arrested person under 18 is brought before a court at the latest the
    # day after the arrest (adults: the third day). Arrested 30 November 2026 09:30 Oslo time.
    rules = load_ruleset(
        ROOT / "deploy/routing/rules.yaml", ROOT / "deploy/routing/units.yaml", REF
    )
    out = person(national_id=BORN_1910, birth_date="2012-05-15", arrested_at=ARRESTED)
    decision = decide(out, uuid.uuid4(), rules, RECEIVED)
    assert decision.deadline is not None
    assert decision.deadline.rule_id == "custody-youth"
    assert decision.deadline.due_at.astimezone(OSLO).date() <= dt.date(2026, 12, 1)
    assert "custody-adult" not in decision.matched_rules
