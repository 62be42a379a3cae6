"""The work list's entry of a case the rules sent to triage: reason and the deciding rule."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import msgspec
import pytest

from schemas import reference
from schemas.report import Report
from services.common.rules.engine import decide
from services.common.rules.ruleset import RuleSet, load_ruleset
from services.routing.handler import triage_reason
from services.routing.triage_entry import WorkEntry, triage_rule, work_entry

ROOT = Path(__file__).parents[3]
UNITS = ROOT / "deploy" / "routing" / "units.yaml"
HEAD = "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"
# A priority rule matches first, then two rules that name triage: the first of those decides.
RULES = (
    "  - {id: weapon, when: {flag: weapon}, then: {priority: high}}\n"
    "  - {id: hate-to-triage, when: {flag: hate_motive}, then: {unit: triage}}\n"
    "  - {id: danger-to-triage, when: {flag: ongoing_danger}, then: {unit: triage}}\n"
    "  - {id: quality-to-triage, when: {quality_issues: true}, then: {unit: triage}}\n"
)
NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


def ruleset(tmp_path: Path, rules: str = RULES) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + rules, "utf-8")
    return load_ruleset(path, UNITS, reference.load())


def report(municipality: str = "0301", **flags: bool) -> Report:
    body = {
        "source": "s",
        "external_id": "x",
        "reported_at": "2026-12-01T10:00:00Z",
        "incident": {
            "occurred_from": "2026-12-01T09:00:00Z",
            "description": "d",
            "municipality": municipality,
        },
        "offences": [{"code": "strl-321"}],
        "flags": flags,
    }
    return msgspec.convert(body, Report)


@pytest.fixture
def rules(tmp_path: Path) -> RuleSet:
    return ruleset(tmp_path)


def test_the_first_matching_rule_naming_triage_is_the_detail(rules: RuleSet) -> None:
    decision = decide(
        report(weapon=True, hate_motive=True, ongoing_danger=True), uuid.uuid4(), rules, NOW
    )
    assert decision.unit == "triage"
    assert decision.matched_rules == ["weapon", "hate-to-triage", "danger-to-triage"]
    assert triage_rule(decision, rules) == "hate-to-triage"
    reason = triage_reason(decision, quality_issues=False)
    # The decision names the district as the catalogue does; the work list by its slug.
    assert decision.district == "Oslo"
    assert work_entry(decision, reason, rules) == WorkEntry(
        decision.report_id, "rule", "hate-to-triage", "oslo"
    )


def test_no_district_and_quality_issues_carry_no_rule(rules: RuleSet) -> None:
    nowhere = decide(report("9998", hate_motive=True), uuid.uuid4(), rules, NOW)
    assert (nowhere.unit, nowhere.district) == ("triage", None)
    assert work_entry(nowhere, triage_reason(nowhere, False), rules) == WorkEntry(
        nowhere.report_id, "no_district", None
    )
    oslo = decide(report(hate_motive=True), uuid.uuid4(), rules, NOW)
    assert work_entry(oslo, triage_reason(oslo, True), rules) == WorkEntry(
        oslo.report_id, "quality_issues", None, "oslo"
    )


def test_a_case_for_a_unit_has_no_entry(rules: RuleSet) -> None:
    decision = decide(report(weapon=True), uuid.uuid4(), rules, NOW)
    assert decision.unit == "oslo.felles-etterforskning"
    assert work_entry(decision, triage_reason(decision, False), rules) is None


def test_a_rule_set_without_the_rule_gives_no_detail(rules: RuleSet, tmp_path: Path) -> None:
    decision = decide(report(hate_motive=True), uuid.uuid4(), rules, NOW)
    reloaded = ruleset(tmp_path, "  - {id: weapon, when: {flag: weapon}, then: {priority: high}}\n")
    assert triage_rule(decision, reloaded) is None
    assert work_entry(decision, "rule", reloaded) == WorkEntry(
        decision.report_id, "rule", None, "oslo"
    )
