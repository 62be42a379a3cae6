"""What the triage pages show and send, without I/O: Oslo times, ages, why a report waits,
the forms' fields as the dispositions' bodies, and refusals as the page says them."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.intake.triage import page_errors, page_views
from services.intake.triage.disposition_model import Close, Correct, Route, Transfer
from services.intake.triage.model import Refusal

CLAIM = str(uuid.uuid4())


def test_times_are_oslo_time_winter_and_summer() -> None:
    # CET (+01:00) in winter, CEST (+02:00) in summer.
    assert page_views.local(dt.datetime(2026, 12, 1, 8, 5, tzinfo=dt.UTC)) == "01.12.2026 09:05"
    assert page_views.local("2026-07-01T22:30:00+00:00") == "02.07.2026 00:30"
    assert page_views.local(None) == "–"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0 min"), (59 * 60, "59 min"), (3600, "1 h"), (47 * 3600, "47 h"), (49 * 3600, "2 d")],
)
def test_ages_in_the_largest_whole_unit(seconds: int, shown: str) -> None:
    assert page_views.age(seconds) == shown


def test_why_a_report_waits_names_its_detail() -> None:
    assert (
        page_views.why_waits("rule", "weapon-triage") == "a rule sent it to triage (weapon-triage)"
    )
    assert page_views.why_waits("no_district", None) == "no district could be placed"


def test_a_correction_form_changes_only_what_was_filled_in() -> None:
    form = {
        "municipality": " 0301 ",
        "offences": "strl-321, strl-351  strl-271",
        "flag_weapon": "yes",
        "flag_hate_motive": "no",
        "flag_domestic_violence": "",
        "reason": "  Feil kommune  ",
    }
    raw = page_views.correction(form, CLAIM)
    assert raw == {
        "claim": CLAIM,
        "changes": {
            "incident.municipality": "0301",
            "offences": ["strl-321", "strl-351", "strl-271"],
            "flags.weapon": True,
            "flags.hate_motive": False,
        },
        "reason": "Feil kommune",
    }
    assert page_views.body(Correct, raw).changes == raw["changes"]
    with pytest.raises(Refusal) as nothing:
        page_views.correction({"municipality": "  "}, CLAIM)
    assert nothing.value.status == 422
    assert nothing.value.extra["errors"][0]["path"] == "$.changes"


def test_a_deadline_typed_in_oslo_time_is_sent_with_its_offset() -> None:
    raw = page_views.route({"unit": "oslo.vold", "deadline_at": "2026-12-01T09:00"}, CLAIM)
    assert raw == {"claim": CLAIM, "unit": "oslo.vold", "deadline_at": "2026-12-01T09:00:00+01:00"}
    body = page_views.body(Route, raw)
    assert body.deadline_at == dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    assert page_views.route({"priority": ""}, CLAIM) == {"claim": CLAIM}
    with pytest.raises(Refusal) as wrong:
        page_views.route({"deadline_at": "tomorrow"}, CLAIM)
    assert wrong.value.extra["errors"][0]["path"] == "$.deadline_at"


def test_transfer_forms_name_one_target() -> None:
    district = page_views.transfer(
        {"to": "district", "district": "vest", "reason": "Bergen"}, CLAIM
    )
    assert page_views.body(Transfer, district).to.district == "vest"
    authority = page_views.transfer(
        {"to": "authority", "authority": "Tolletaten", "organisation_number": "974761076"}, CLAIM
    )
    assert authority["to"] == {"authority": "Tolletaten", "organisation_number": "974761076"}
    assert "reason" not in authority  # the use case names it as missing
    with pytest.raises(Refusal):
        page_views.transfer({"to": "elsewhere"}, CLAIM)


def test_a_body_that_does_not_fit_is_422_naming_the_field() -> None:
    with pytest.raises(Refusal) as caught:
        page_views.body(Close, page_views.close({"ground": "no-offence"}, "not-a-uuid"))
    assert caught.value.status == 422
    assert caught.value.extra["errors"][0]["path"] == "$.claim"


def test_a_refusal_is_its_detail_and_the_fields_it_names() -> None:
    plain = Refusal(409, "claimed", "Claimed", "claimed by pia until 09:00")
    assert page_errors.shown(plain) == page_errors.Shown("claimed by pia until 09:00")
    named = Refusal(
        422,
        "invalid-correction",
        "Cannot",
        "1 problem(s) in the changes",
        errors=[{"path": "$.changes['incident.municipality']", "message": "'9998' is unknown"}],
    )
    shown = page_errors.shown(named, "correct")
    assert shown.text == "check municipality."
    assert shown.fields == (
        page_errors.FieldError("correct-municipality", "Municipality", "'9998' is unknown"),
    )
