"""Decisions: the hit policy, district defaults, triage, and every default rule."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.caseevents import CaseEventKind
from schemas.decision import TRIAGE_UNIT, Priority
from schemas.report import Report
from services.common.rules.engine import decide
from services.common.rules.ruleset import RuleSet, load_ruleset
from tests.support.reports import standardised_report
from tests.unit.routing.test_age_unknown import AGE_UNKNOWN_RULES

ROOT = Path(__file__).parents[3]
REF = reference.load()
UNITS = ROOT / "deploy" / "routing" / "units.yaml"
DEFAULT = load_ruleset(ROOT / "deploy" / "routing" / "rules.yaml", UNITS, REF)
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
report = functools.partial(standardised_report, NOW)


def decided(r: Report, ruleset: RuleSet = DEFAULT) -> Any:
    return decide(r, uuid.uuid4(), ruleset, NOW)


def a_municipality_in(district: str) -> str:
    return min(n for n, m in REF.municipalities.items() if m.police_district == district)


@pytest.mark.parametrize("district", reference.POLICE_DISTRICTS)
def test_every_district_has_a_default_unit_found_by_municipality(district: str) -> None:
    decision = decided(report(incident={"municipality": a_municipality_in(district)}))
    home = DEFAULT.catalogue.districts[district]
    assert decision.district == district
    assert decision.unit == f"{home.slug}.{home.default}"
    assert decision.matched_rules == []
    assert decision.priority is Priority.NORMAL  # tyveri's default priority


def test_no_municipality_goes_to_triage_with_a_reason() -> None:
    body = report()
    no_place = msgspec.structs.replace(
        body, incident=msgspec.structs.replace(body.incident, municipality=None)
    )
    decision = decided(no_place)
    assert decision.unit == TRIAGE_UNIT
    assert decision.district is None
    assert decision.triage_reasons == ["no police district: municipality unknown or missing"]


def test_quality_issues_go_to_triage_with_their_codes() -> None:
    decision = decided(report(incident={"municipality": "9998"}))
    assert decision.unit == TRIAGE_UNIT
    assert "quality-to-triage" in decision.matched_rules
    assert "quality issue municipality.unknown" in decision.triage_reasons


def test_hit_policy(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"
        "  - {id: a, when: {flag: weapon}, then: {priority: high}}\n"
        "  - id: b\n    when: {flag: weapon}\n    then:\n      section: okonomi-og-miljo\n"
        "      deadline: {days: 10, from: report, basis: ten days, met_by: [closed]}\n"
        "  - id: c\n    when: {flag: weapon}\n    then:\n      section: barn-og-unge\n"
        "      priority: critical\n      deadline: {days: 2, from: incident, basis: two days,"
        " met_by: [interview_held, prosecution_decision]}\n"
        "  - {id: d, when: {flag: hate_motive}, then: {section: digitalt-politiarbeid}}\n",
        "utf-8",
    )
    ruleset = load_ruleset(rules, UNITS, REF)
    r = report(flags={"weapon": True})
    decision = decided(r, ruleset)
    assert decision.matched_rules == ["a", "b", "c"]
    assert decision.unit == "oslo.okonomi-og-miljo"  # the first rule naming a unit
    assert decision.priority is Priority.CRITICAL  # the highest
    assert decision.amqp_priority == 9
    assert decision.deadline is not None
    assert (decision.deadline.rule_id, decision.deadline.due_at) == (
        "c",
        r.incident.occurred_from + dt.timedelta(days=2),
    )
    # the earliest deadline brings its own events and moment, not the other rule's
    assert decision.deadline.met_by == [
        CaseEventKind.INTERVIEW_HELD,
        CaseEventKind.PROSECUTION_DECISION,
    ]
    assert decision.deadline.moment == "incident"
    assert decision.ruleset_version == ruleset.version


ARRESTED_ADULT = {
    "role": "suspect",
    "birth_date": "1980-01-01",
    "arrested_at": "2026-11-26T23:00:00+01:00",
}
ARRESTED_YOUTH = {
    "role": "suspect",
    "birth_date": "2010-01-01",
    "arrested_at": "2026-11-26T23:00:00+01:00",
}
CHILD_VICTIM = {"role": "victim", "birth_date": "2015-01-01"}
INFANT_VICTIM = {"role": "victim", "birth_date": "2022-01-01"}


RULE_CASES: list[tuple[dict[str, Any], str, str, Priority]] = [
    ({"persons": [ARRESTED_ADULT]}, "custody-adult", "felles-etterforskning", Priority.CRITICAL),
    ({"persons": [ARRESTED_YOUTH]}, "custody-youth", "barn-og-unge", Priority.CRITICAL),
    ({"offences": [{"code": "strl-275"}]}, "homicide", "vold-og-seksual", Priority.CRITICAL),
    ({"offences": [{"code": "strl-291"}]}, "rape", "vold-og-seksual", Priority.CRITICAL),
    (
        {"offences": [{"code": "strl-311"}]},
        "child-sexual-abuse",
        "vold-og-seksual",
        Priority.CRITICAL,
    ),
    (
        {"offences": [{"code": "strl-282"}], "persons": [CHILD_VICTIM]},
        "barnehus-recent",
        "vold-naere-relasjoner",
        Priority.CRITICAL,
    ),
    (
        {
            "offences": [{"code": "strl-282"}],
            "persons": [INFANT_VICTIM],
            "incident": {"occurred_from": "2026-10-01T12:00:00"},
        },
        "barnehus-under-6",
        "vold-naere-relasjoner",
        Priority.HIGH,
    ),
    (
        {
            "offences": [{"code": "strl-298"}],
            "persons": [CHILD_VICTIM],
            "incident": {"occurred_from": "2026-10-01T12:00:00"},
        },
        "barnehus",
        "vold-og-seksual",
        Priority.HIGH,
    ),
    (
        {"flags": {"domestic_violence": True}},
        "domestic-violence",
        "vold-naere-relasjoner",
        Priority.HIGH,
    ),
    (
        {"persons": [{"role": "suspect", "birth_date": "2010-01-01"}]},
        "youth-suspect",
        "barn-og-unge",
        Priority.HIGH,
    ),
    (
        {
            "offences": [{"code": "strl-271"}],
            "persons": [{"role": "victim", "birth_date": "2010-01-01"}],
        },
        "violence-against-children",
        "barn-og-unge",
        Priority.HIGH,
    ),
    (
        {"offences": [{"code": "strl-297"}]},
        "other-sexual-offences",
        "vold-og-seksual",
        Priority.HIGH,
    ),
    ({"offences": [{"code": "strl-327"}]}, "serious-violence", "vold-og-seksual", Priority.HIGH),
    ({"offences": [{"code": "strl-185"}]}, "hate-crime", "felles-etterforskning", Priority.HIGH),
    (
        {"flags": {"ongoing_danger": True}},
        "ongoing-danger",
        "felles-etterforskning",
        Priority.CRITICAL,
    ),
    ({"flags": {"weapon": True}}, "weapon", "felles-etterforskning", Priority.HIGH),
    ({"offences": [{"code": "toll-16-1"}]}, "economic-crime", "okonomi-og-miljo", Priority.HIGH),
    ({"offences": [{"code": "strl-371"}]}, "fraud-and-tax", "okonomi-og-miljo", Priority.NORMAL),
    (
        {"offences": [{"code": "strl-232"}]},
        "serious-narcotics",
        "organisert-kriminalitet",
        Priority.HIGH,
    ),
    (
        {"offences": [{"code": "strl-202"}]},
        "identity-crime",
        "digitalt-politiarbeid",
        Priority.NORMAL,
    ),
    ({"offences": [{"code": "vtrl-22"}]}, "traffic", "operative-tjenester", Priority.HIGH),
]


@pytest.mark.parametrize(("changes", "rule", "section", "priority"), RULE_CASES)
def test_each_default_rule(
    changes: dict[str, Any], rule: str, section: str, priority: Priority
) -> None:
    decision = decided(report(**changes))
    assert rule in decision.matched_rules
    assert decision.unit == f"oslo.{section}"
    assert decision.priority is priority


def test_covers_every_default_rule() -> None:
    tested = {rule for _, rule, _, _ in RULE_CASES} | AGE_UNKNOWN_RULES  # test_age_unknown
    assert {r.id for r in DEFAULT.rules} - tested == {"quality-to-triage"}


def test_deadlines_from_statute() -> None:
    rape = decided(report(offences=[{"code": "strl-291"}]))
    assert rape.deadline is not None
    assert rape.deadline.due_at - dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC) == dt.timedelta(
        days=130
    )
    youth = decided(report(persons=[ARRESTED_YOUTH]))
    assert youth.deadline is not None
    assert youth.deadline.rule_id == "custody-youth"
    assert youth.deadline.due_at == dt.datetime(2026, 11, 27, 22, tzinfo=dt.UTC)


def test_arrest_deadline_needs_an_arrest(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"
        "  - id: a\n    when: {flag: weapon}\n    then:\n"
        "      deadline: {days: 1, from: arrest, basis: custody, met_by: [released]}\n",
        "utf-8",
    )
    assert decided(report(flags={"weapon": True}), load_ruleset(rules, UNITS, REF)).deadline is None
