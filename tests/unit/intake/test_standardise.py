"""Standardisation: a pure function; soft problems become quality issues."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings

from schemas import reference
from schemas.report import IdKind, Report
from schemas.report import as_utc as to_utc
from services.common.standardise import Options, offence_code, standardise
from tests.support.strategies import reports

REF = reference.load()
RECEIVED = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
SYNTHETIC_1990 = "24869023120"  # Test-Norge number, born 1990-06-24


def make(**changes: Any) -> Report:
    body: dict[str, Any] = {
        "source": "s",
        "external_id": "x",
        "reported_at": "2026-11-26T10:00:00+01:00",
        "incident": {"occurred_from": "2026-11-26T09:00:00", "description": " hendelse \r\n"},
        "offences": [{"code": "strl-321"}],
    }
    body.update(changes)
    return msgspec.convert(body, Report)


def codes(report: Report) -> set[str]:
    return {q.code for q in report.quality_issues}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("strl. 321", "strl-321"),
        ("straffeloven § 321", "strl-321"),
        ("STRL-321", "strl-321"),
        ("strl 321", "strl-321"),
        ("vegtrafikkloven § 22 jf. § 31", "vtrl-22"),
        ("straffeloven § 266 a", "strl-266a"),
        ("tolloven § 16-1", "toll-16-1"),
        ("§ 321", None),
        ("ukjentloven § 1", None),
    ],
)
def test_offence_code_forms(text: str, expected: str | None) -> None:
    assert offence_code(text, REF) == expected


def test_naive_times_are_oslo_time_in_winter_and_summer() -> None:
    assert to_utc(dt.datetime(2026, 1, 15, 12, 0)) == dt.datetime(2026, 1, 15, 11, 0, tzinfo=dt.UTC)
    assert to_utc(dt.datetime(2026, 7, 15, 12, 0)) == dt.datetime(2026, 7, 15, 10, 0, tzinfo=dt.UTC)
    offset = dt.timezone(dt.timedelta(hours=-5))
    assert to_utc(dt.datetime(2026, 7, 15, 12, 0, tzinfo=offset)).hour == 17


def test_clean_report_has_no_issues_and_is_normalised() -> None:
    out = standardise(make(), REF, RECEIVED)
    assert out.quality_issues == []
    assert out.incident.description == "hendelse"
    assert out.incident.occurred_from == dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
    assert out.reported_at.tzinfo is dt.UTC


def test_identity_is_classified_and_age_derived_at_the_incident() -> None:
    report = make(
        persons=[{"role": "victim", "national_id": "248690 23120", "name": "  Kari   T "}]
    )
    out = standardise(report, REF, RECEIVED, Options(accept_synthetic_ids=True))
    (person,) = out.persons
    assert (person.national_id, person.id_kind) == (SYNTHETIC_1990, IdKind.SYNTHETIC)
    assert person.birth_date == dt.date(1990, 6, 24)
    assert person.age_at_incident == 36
    assert person.name == "Kari T"
    assert out.quality_issues == []


@pytest.mark.parametrize(
    ("changes", "issue"),
    [
        (
            {
                "incident": {
                    "occurred_from": "2026-11-26T09:00:00",
                    "description": "d",
                    "municipality": "9998",
                }
            },
            ("municipality.unknown", "$.incident.municipality"),
        ),
        (
            {"persons": [{"role": "victim", "national_id": "15108695077"}]},
            ("national_id.checksum", "$.persons[0].national_id"),
        ),
        (
            {"persons": [{"role": "victim", "national_id": SYNTHETIC_1990}]},
            ("national_id.synthetic", "$.persons[0].national_id"),
        ),
        (
            {"offences": [{"label": "noe ingen kjenner"}]},
            ("offence.unknown_label", "$.offences[0].label"),
        ),
        ({"offences": [{"code": "strl-9999"}]}, ("offence.unknown_code", "$.offences[0].code")),
        (
            {"offences": [{"code": "hva som helst"}]},
            ("offence.unreadable_code", "$.offences[0].code"),
        ),
        ({"persons": [{"role": "victim", "phone": "12"}]}, ("phone.invalid", "$.persons[0].phone")),
        (
            {"persons": [{"role": "victim", "arrested_at": "2026-11-26T10:00:00Z"}]},
            ("person.arrest_not_suspect", "$.persons[0].arrested_at"),
        ),
        ({"reporter_org": "974760674"}, ("reporter_org.invalid", "$.reporter_org")),
        ({"reported_at": "2027-01-01T00:00:00Z"}, ("time.future", "$.reported_at")),
    ],
)
def test_soft_problems_become_quality_issues(
    changes: dict[str, Any], issue: tuple[str, str]
) -> None:
    out = standardise(make(**changes), REF, RECEIVED)
    assert issue in {(q.code, q.path) for q in out.quality_issues}


def test_label_is_mapped_to_code() -> None:
    out = standardise(make(offences=[{"label": " Sykkeltyveri "}]), REF, RECEIVED)
    assert [(o.code, o.label) for o in out.offences] == [("strl-321", "Sykkeltyveri")]


def test_birth_date_contradicting_the_id_is_flagged() -> None:
    person = {"role": "victim", "national_id": SYNTHETIC_1990, "birth_date": "1991-01-01"}
    out = standardise(make(persons=[person]), REF, RECEIVED, Options(accept_synthetic_ids=True))
    assert codes(out) == {"person.birth_date_mismatch"}
    assert out.persons[0].birth_date == dt.date(1991, 1, 1)  # as sent
    # The later of the two dates gives the age: born 1 January 1991, 35 on 26 November 2026
    # (the identity number's 24 June 1990 would give 36).
    assert out.persons[0].age_at_incident == 35


# --- properties ---------------------------------------------------------------------------


def _content(report: Report) -> Report:
    return msgspec.structs.replace(report, quality_issues=[], notes=[])


@settings(max_examples=200, deadline=None)
@given(report=reports())
def test_standardising_twice_changes_nothing(report: Report) -> None:
    once = standardise(report, REF, RECEIVED)
    twice = standardise(once, REF, RECEIVED)
    # What the first pass changed it records once (a law reference made canonical, a local
    # time read around a change of clock): the content stays and nothing new is found.
    assert _content(twice) == _content(once)
    assert {(q.code, q.path) for q in twice.quality_issues} <= {
        (q.code, q.path) for q in once.quality_issues
    }
    assert {(n.code, n.path) for n in twice.notes} <= {(n.code, n.path) for n in once.notes}


@settings(max_examples=200, deadline=None)
@given(report=reports())
def test_times_keep_their_instant_and_become_utc(report: Report) -> None:
    out = standardise(report, REF, RECEIVED)
    assert out.incident.occurred_from.tzinfo is dt.UTC
    if report.incident.occurred_from.tzinfo is not None:
        assert out.incident.occurred_from == report.incident.occurred_from


@settings(max_examples=300, deadline=None)
@given(report=reports())
def test_standardised_report_still_meets_the_contract(report: Report) -> None:
    out = standardise(report, REF, RECEIVED)
    assert msgspec.convert(msgspec.to_builtins(out), Report) == out


def test_incident_after_its_report_is_flagged() -> None:
    later = {"occurred_from": "2026-11-27T09:00:00+01:00", "description": "d"}
    out = standardise(make(reported_at="2026-06-01T10:00:00+02:00", incident=later), REF, RECEIVED)
    assert ("time.incident_after_report", "$.incident.occurred_from") in {
        (q.code, q.path) for q in out.quality_issues
    }


@pytest.mark.parametrize(
    ("born", "occurred", "age"),
    [
        # 1901-01-01 to 2060-01-01 is 159 whole years: past the contract's 150.
        ("1901-01-01", "2060-01-01T12:00:00+01:00", None),
        # 1909-06-02 to 2059-06-01 is 149 years and 364 days: 149, a possible age.
        ("1909-06-02", "2059-06-01T12:00:00+01:00", 149),
    ],
)
def test_an_age_past_150_is_a_quality_issue_not_a_refusal(
    born: str, occurred: str, age: int | None
) -> None:
    report = make(
        incident={"occurred_from": occurred, "description": "hendelse"},
        persons=[{"role": "victim", "birth_date": born}],
    )
    out = standardise(report, REF, RECEIVED)
    assert out.persons[0].age_at_incident == age
    assert ("person.age_implausible" in codes(out)) is (age is None)
    # What comes out still meets the contract (a 422 "after standardisation" before).
    msgspec.convert(msgspec.to_builtins(out), Report)
