"""A person's corrections applied to a report (pure), downgrades, and the idempotency rules of
acts: what is changed and named, what is refused and where, what counts as less serious."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.decision import Priority
from schemas.report import Report, Role
from services.common.standardise import standardise
from services.intake.triage.acts import Answer, attempt, kept, replay
from services.intake.triage.corrections import CorrectionProblems, correct, downgrades
from services.intake.triage.model import Refusal

REF = reference.load()
RECEIVED = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)


def report(**incident: Any) -> Report:
    raw = {
        "source": "nettanmeldelse",
        "external_id": "n-1",
        "reported_at": "2026-11-26T22:05:00Z",
        "incident": {
            "occurred_from": "2026-11-26T21:40:00+01:00",
            "municipality": "9999",
            "description": "Sykkel stjålet.",
            **incident,
        },
        "offences": [{"code": "strl-272"}, {"code": "strl-321"}],
        "persons": [{"role": "victim"}, {"role": "witness"}],
    }
    return standardise(msgspec.convert(raw, Report), REF, RECEIVED)


def problems(changes: Any) -> list[tuple[str, str]]:
    with pytest.raises(CorrectionProblems) as caught:
        correct(report(), changes, REF, RECEIVED)
    return [(p.path, p.message) for p in caught.value.problems]


def test_an_unknown_municipality_corrected_leaves_no_issue() -> None:
    before = report()
    assert [q.code for q in before.quality_issues] == ["municipality.unknown"]
    fixed = correct(before, {"incident.municipality": "0301"}, REF, RECEIVED)
    assert fixed.report.incident.municipality == "0301"
    assert fixed.report.quality_issues == []
    assert fixed.fields == ("incident.municipality",)


def test_a_municipality_by_name_and_an_old_number_become_the_2024_number() -> None:
    assert (
        correct(
            report(), {"incident.municipality": "Tromsø"}, REF, RECEIVED
        ).report.incident.municipality
        == "5501"
    )
    # 5401 Tromsø was renumbered 5501 on 1 January 2024.
    assert (
        correct(
            report(), {"incident.municipality": "5401"}, REF, RECEIVED
        ).report.incident.municipality
        == "5501"
    )


def test_offences_persons_and_flags_are_changed_by_key() -> None:
    fixed = correct(
        report(municipality="0301"),
        {
            "offences[1]": "straffeloven § 323",
            "persons[1].role": "suspect",
            "persons[0].birth_date": "1990-05-17",
            "flags.weapon": True,
        },
        REF,
        RECEIVED,
    )
    assert [o.code for o in fixed.report.offences] == ["strl-272", "strl-323"]
    assert fixed.report.persons[1].role is Role.SUSPECT
    assert fixed.report.persons[0].age_at_incident == 36  # born 17.05.1990, incident 26.11.2026
    assert fixed.report.flags.weapon is True
    assert fixed.replaced_offences == ("strl-321",)
    assert set(fixed.fields) == {
        "offences[1]",
        "persons[1].role",
        "persons[0].birth_date",
        "flags.weapon",
    }


@pytest.mark.parametrize(
    ("changes", "path", "quoted"),
    [
        ({"incident.municipality": "9998"}, "$.changes['incident.municipality']", "'9998'"),
        (
            {"incident.municipality": "Våler"},
            "$.changes['incident.municipality']",
            "2 municipalities",
        ),
        ({"offences": ["strl-321", "strl-9999"]}, "$.changes['offences'][1]", "'strl-9999'"),
        ({"offences[0]": "tyveri"}, "$.changes['offences[0]']", "'tyveri'"),
        ({"offences[5]": "strl-321"}, "$.changes['offences[5]']", "2 offence(s)"),
        ({"persons[0].role": "boss"}, "$.changes['persons[0].role']", "'boss'"),
        (
            {"persons[0].birth_date": "17.05.1990"},
            "$.changes['persons[0].birth_date']",
            "'17.05.1990'",
        ),
        ({"flags.weapon": "yes"}, "$.changes['flags.weapon']", "'yes'"),
        ({"flags.drunk": True}, "$.changes['flags.drunk']", "no flag 'drunk'"),
        ({"incident.description": "x"}, "$.changes['incident.description']", "not a field"),
    ],
)
def test_each_wrong_change_is_named_with_its_value(
    changes: dict[str, Any], path: str, quoted: str
) -> None:
    found = problems(changes)
    assert [p for p, _ in found] == [path]
    assert quoted in found[0][1]


def test_a_wrong_national_id_is_refused_without_quoting_it() -> None:
    number = "12345678901"
    ((path, message),) = problems({"persons[0].national_id": number})
    assert path == "$.changes['persons[0].national_id']"
    assert "check digits" in message
    assert number not in message


def test_changes_that_change_nothing_are_refused() -> None:
    assert problems({"persons[0].role": "victim"}) == [("$.changes", "the changes change nothing")]
    assert problems({}) != []


def test_a_lower_priority_is_a_downgrade() -> None:
    assert downgrades(Priority.HIGH, Priority.NORMAL, (), ["strl-321"], REF) == [
        "lowers the priority from high to normal"
    ]
    assert downgrades(Priority.NORMAL, Priority.HIGH, (), ["strl-272"], REF) == []


def test_an_offence_replaced_by_a_less_serious_one_is_a_downgrade() -> None:
    # strl-272 (grov kroppskrenkelse) is high in the offence table, strl-271 normal.
    (why,) = downgrades(Priority.HIGH, Priority.HIGH, ["strl-272"], ["strl-271"], REF)
    assert "strl-272" in why
    # Taking out a minor offence while a more serious one stays is no downgrade.
    assert downgrades(Priority.HIGH, Priority.HIGH, ["strl-323"], ["strl-272"], REF) == []


def test_a_retry_replays_and_another_body_under_the_key_is_refused() -> None:
    report_id = uuid.uuid4()
    first = attempt("route", report_id, {"claim": "t", "unit": "kripos"}, "k", "route:t")
    answer = Answer(200, {"act_id": "a"})
    stored = kept(answer, first)
    again = attempt("route", report_id, {"unit": "kripos", "claim": "t"}, "k", "route:t")
    assert replay(stored, again) == answer
    for other in (
        attempt("route", report_id, {"claim": "t", "unit": "oslo.barn-og-unge"}, "k", "route:t"),
        attempt("close", report_id, {"claim": "t", "unit": "kripos"}, "k", "close:t"),
        attempt("route", uuid.uuid4(), {"claim": "t", "unit": "kripos"}, "k", "route:t"),
    ):
        with pytest.raises(Refusal) as refused:
            replay(stored, other)
        assert (refused.value.status, refused.value.extra["header"]) == (422, "Idempotency-Key")


def test_without_a_header_the_key_is_the_default_and_a_bad_header_is_refused() -> None:
    assert attempt("route", uuid.uuid4(), {}, None, "route:t").key == "route:t"
    with pytest.raises(Refusal) as refused:
        attempt("route", uuid.uuid4(), {}, "a key with spaces", "route:t")
    assert refused.value.status == 400
