"""What the triage pages' fixes decide without I/O: where a sign-in may return to (never
another site), overdue deadlines, a history's details without `None`, the rules worth a
look, a person's fields in a correction form, and a refusal tied to the form's fields."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.common.rules.explanation import Missed, RuleCheck
from services.intake.page_signin import return_path
from services.intake.triage import page_errors, page_views
from services.intake.triage.disposition_model import Correct
from services.intake.triage.model import Refusal

CLAIM = str(uuid.uuid4())


@pytest.mark.parametrize(
    "path",
    ["/triage", "/triage/reviews", "/triage?district=oslo&reason=rule", f"/triage/{uuid.uuid4()}"],
)
def test_a_sign_in_returns_to_a_path_of_its_page(path: str) -> None:
    assert return_path("triage", path) == path


@pytest.mark.parametrize(
    "path",
    [
        None,
        "",
        "https://evil.example/triage",
        "//evil.example/triage",
        "/\\evil.example",
        "/triage\\..\\x",
        "/triagex",
        "/ops",  # another page's
        "/triage/login",
        "/triage/callback?code=x",
        "/triage/logout",
        "/triage/signed-out",
        "/triage/../ops",
        "/triage/reviews#x",
        "/triage/\r\nSet-Cookie:x",
        "/triage/ø",
        "triage/reviews",
        "/triage/" + "a" * 600,
    ],
)
def test_a_sign_in_never_returns_elsewhere(path: str | None) -> None:
    assert return_path("triage", path) is None


def test_a_passed_deadline_is_overdue_in_words() -> None:
    now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
    assert page_views.due("2026-11-29T08:00:00+00:00", now) == ("29.11.2026 09:00", True)
    assert page_views.due(dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC), now) == (
        "01.12.2026 09:00",
        False,
    )
    assert page_views.due(None, now) == ("–", False)


def test_history_details_leave_out_ids_and_empty_values() -> None:
    details = {
        "district": None,
        "deadline_at": None,
        "unit": "oslo.vold",
        "act_id": str(uuid.uuid4()),
        "downgrade": False,
        "overridden": ["priority", "deadline"],
        "lease_until": "2026-12-01T08:00:00+00:00",
        "fields": [],
    }
    text = page_views.details_text(details)
    assert text == (
        "unit: oslo.vold; downgrade: no; overridden: priority, deadline;"
        " lease until: 01.12.2026 09:00"
    )
    assert "None" not in text
    assert page_views.details_text({"district": None}) == ""


def _check(rule: str, *missed: str) -> RuleCheck:
    return RuleCheck(rule, 1, tuple(Missed(key, 2) for key in missed), 1, None)


def test_rules_short_only_on_the_offence_are_kept_apart() -> None:
    checks = [
        _check("matched"),
        _check("custody", "offence"),
        _check("oslo-violence", "municipality"),
        _check("far", "offence", "flag"),
        _check("weapon", "flag"),
    ]
    useful, offence = page_views.nearly(checks)
    assert [c.rule_id for c in useful] == ["matched", "oslo-violence", "weapon"]
    assert [c.rule_id for c in offence] == ["custody"]


def test_a_correction_form_changes_a_persons_fields_by_index() -> None:
    form = {
        "person_1_role": "suspect",
        "person_0_birth_date": "1990-05-17",
        "person_0_national_id": " 17059012345 ",
        "person_0_role": "",
    }
    raw = page_views.correction(form, CLAIM)
    assert raw["changes"] == {
        "persons[0].birth_date": "1990-05-17",
        "persons[0].national_id": "17059012345",
        "persons[1].role": "suspect",
    }
    assert page_views.body(Correct, raw).changes == raw["changes"]
    assert page_views.is_change_field("person_3_national_id")
    assert not page_views.is_change_field("person_x_role")
    assert not page_views.is_change_field("reason")


def test_an_empty_choice_is_refused_naming_its_field() -> None:
    for build, form, path in (
        (page_views.close, {"ground": "", "reason": "x"}, "$.ground"),
        (page_views.transfer, {"to": "district", "district": ""}, "$.to.district"),
        (page_views.transfer, {"to": "unit"}, "$.to.unit"),
    ):
        with pytest.raises(Refusal) as refused:
            build(form, CLAIM)
        assert refused.value.status == 422
        assert refused.value.extra["errors"][0]["path"] == path


@pytest.mark.parametrize(
    ("form", "path", "field", "label"),
    [
        (
            "correct",
            "$.changes['persons[1].birth_date']",
            "correct-person-1-birth-date",
            "Person 2's birth date",
        ),
        ("correct", "$.changes['flags.weapon']", "correct-flag-weapon", "Flag weapon"),
        ("correct", "$.changes['offences[0]']", "correct-offences", "Offence codes"),
        ("correct", "$.reason", "correct-reason", "Reason"),
        ("route", "$.unit", "route-unit", "Unit"),
        ("transfer-district", "$.to.district", "transfer-district-to", "District"),
        (
            "transfer-authority",
            "$.to.organisation_number",
            "transfer-authority-orgnr",
            "Organisation number",
        ),
        ("link", "$.report_id", "link-report", "The other report's id"),
        ("close", "$.ground", "close-ground", "Ground"),
        ("route", "$.claim", None, "The form"),
        ("route", "$.changes['persons[0].role']", None, "The form"),
    ],
)
def test_a_refusals_path_names_the_forms_field(
    form: str, path: str, field: str | None, label: str
) -> None:
    # Only a correction form has the report's fields.
    assert page_errors.field_of(form, path) == (field, label)


def test_several_wrong_fields_are_each_listed() -> None:
    refusal = Refusal(
        422,
        "invalid",
        "Cannot",
        "2 problem(s)",
        errors=[
            {"path": "$.unit", "message": "'x' is not a unit"},
            {"path": "$.reason", "message": "required: a downgrade"},
        ],
    )
    shown = page_errors.shown(refusal, "route")
    assert shown.text == "check unit and reason."
    invalid = shown.invalid("route-reason")
    assert invalid is not None
    assert invalid.message == "required: a downgrade"
    assert shown.invalid("route-priority") is None
