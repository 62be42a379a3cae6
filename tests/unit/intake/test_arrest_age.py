"""An arrested person's age decides the custody deadline (strpl. § 183): unknown, it is flagged."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.report import Report
from services.common.standardise import Options, standardise
from services.intake.adapters import ADAPTERS
from services.intake.service import from_source

REF = reference.load()
RECEIVED = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples" / "sources"
SYNTHETIC_1990 = "24869023120"  # Test-Norge number, born 1990-06-24
ARRESTED = "2026-11-30T09:30:00+01:00"


def with_person(person: dict[str, Any]) -> Report:
    raw = msgspec.convert(
        {
            "source": "patrulje",
            "external_id": "x",
            "reported_at": "2026-11-30T10:00:00+01:00",
            "incident": {"occurred_from": "2026-11-30T09:00:00+01:00", "description": "d"},
            "offences": [{"code": "strl-322"}],
            "persons": [person],
        },
        Report,
    )
    return standardise(raw, REF, RECEIVED, Options(accept_synthetic_ids=True))


def codes(report: Report) -> set[str]:
    return {q.code for q in report.quality_issues}


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        # No id and no birth date.
        ({"role": "suspect", "arrested_at": ARRESTED}, {"person.age_unknown"}),
        # An id that fails its check digits tells no birth date.
        (
            {"role": "suspect", "national_id": "15108695077", "arrested_at": ARRESTED},
            {"person.age_unknown", "national_id.checksum"},
        ),
        # A birth date after the incident gives no age.
        (
            {"role": "suspect", "birth_date": "2027-01-01", "arrested_at": ARRESTED},
            {"person.age_unknown", "person.born_after_incident"},
        ),
        # Whoever is arrested, not only a suspect.
        (
            {"role": "witness", "arrested_at": ARRESTED},
            {"person.age_unknown", "person.arrest_not_suspect"},
        ),
        # The age is known from a birth date or from the identity number.
        ({"role": "suspect", "birth_date": "2009-05-14", "arrested_at": ARRESTED}, set()),
        ({"role": "suspect", "national_id": SYNTHETIC_1990, "arrested_at": ARRESTED}, set()),
        # Not arrested: no custody deadline hangs on the age, so no triage for it.
        ({"role": "suspect"}, set()),
        ({"role": "victim"}, set()),
    ],
)
def test_an_arrested_person_of_unknown_age_is_flagged(
    person: dict[str, Any], expected: set[str]
) -> None:
    out = with_person(person)
    assert codes(out) == expected
    if "person.age_unknown" in expected:
        assert ("person.age_unknown", "$.persons[0]") in {
            (q.code, q.path) for q in out.quality_issues
        }


def test_a_patrol_arrest_without_identity_is_flagged() -> None:
    body: dict[str, Any] = json.loads((EXAMPLES / "patrol.json").read_text("utf-8"))
    body["people"] = [{"r": "M", "arrest": {"at": "2026-11-26T23:12:00+01:00"}}]
    adapter = ADAPTERS["patrol"]
    report = from_source(adapter, msgspec.convert(body, adapter.struct), REF)
    out = standardise(report, REF, RECEIVED)
    assert ("person.age_unknown", "$.persons[0]") in {(q.code, q.path) for q in out.quality_issues}
