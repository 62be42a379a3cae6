"""The routing benchmark's peers decide as our engine does, so comparing them is fair.

Every rule is translated automatically (bench/peers.py) into a zen-engine decision table and
into rule-engine expressions; for hand-made reports each peer must find the same matching
rules, the same unit rule, unit and priority as `decide()`.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from pathlib import Path
from typing import Any

import pytest

from bench import peers
from bench.routing import larger_rules
from schemas import reference
from schemas.decision import TRIAGE_UNIT, Priority
from schemas.report import Report
from services.common.rules import condition_tree
from services.common.rules.engine import decide
from services.common.rules.reading import Reader, parse_yaml
from services.common.rules.ruleset import RuleSet, load_ruleset
from tests.support.reports import standardised_report

ROOT = Path(__file__).parents[3]
REF = reference.load()
RULES = ROOT / "deploy" / "routing" / "rules.yaml"
UNITS = ROOT / "deploy" / "routing" / "units.yaml"
DEFAULT = load_ruleset(RULES, UNITS, REF)
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)

ADULT_ARRESTED = {
    "role": "suspect",
    "birth_date": "1980-01-01",
    "arrested_at": "2026-11-26T23:00:00+01:00",
}
YOUTH_ARRESTED = {
    "role": "suspect",
    "birth_date": "2010-01-01",
    "arrested_at": "2026-11-26T23:00:00+01:00",
}
AGE_UNKNOWN_ARRESTED = {"role": "suspect", "arrested_at": "2026-11-26T23:00:00+01:00"}
CHILD_VICTIM = {"role": "victim", "birth_date": "2015-01-01"}
INFANT_VICTIM = {"role": "victim", "birth_date": "2022-01-01"}
OLD_INCIDENT = {"occurred_from": "2026-10-01T12:00:00"}

CASES: dict[str, dict[str, Any]] = {
    "theft, no rule": {},
    "domestic violence, arrested adult, child victim": {
        "offences": [{"code": "strl-282"}, {"code": "strl-272"}],
        "persons": [CHILD_VICTIM, ADULT_ARRESTED],
        "flags": {"domestic_violence": True, "weapon": True},
    },
    "robbery by an arrested youth": {
        "offences": [{"code": "strl-327"}, {"code": "strl-321"}],
        "persons": [YOUTH_ARRESTED],
        "incident": {"municipality": "4601"},
    },
    "infant victim, incident weeks old": {
        "offences": [{"code": "strl-282"}],
        "persons": [INFANT_VICTIM],
        "incident": OLD_INCIDENT,
    },
    "arrested, age unknown": {"persons": [AGE_UNKNOWN_ARRESTED]},
    "victim and suspect of unknown age, bodily harm": {
        "offences": [{"code": "strl-273"}],
        "persons": [{"role": "victim"}, {"role": "suspect"}],
    },
    "unknown municipality": {"incident": {"municipality": "9998"}},
    "unknown offence code": {"offences": [{"code": "strl-999"}]},
    "hate, weapon, danger": {
        "offences": [{"code": "strl-185"}],
        "flags": {"hate_motive": True, "weapon": True, "ongoing_danger": True},
    },
    "customs law": {"offences": [{"code": "toll-16-1"}], "incident": {"municipality": "5601"}},
    "traffic and narcotics": {"offences": [{"code": "vtrl-22"}, {"code": "strl-232"}]},
    "rape, no municipality": {"offences": [{"code": "strl-291"}], "incident": None},
    "ages on the boundaries: suspect turned 18, victim turned 16 that day": {
        "offences": [{"code": "strl-272"}],
        "persons": [
            {**ADULT_ARRESTED, "birth_date": "2008-11-26"},
            {"role": "victim", "birth_date": "2010-11-26"},
        ],
    },
}


report = functools.partial(standardised_report, NOW, "patrulje")


def outcomes(ruleset: RuleSet, r: Report) -> tuple[peers.Outcome, list[peers.Outcome]]:
    ours = peers.ours(decide(r, uuid.uuid4(), ruleset, NOW), ruleset)
    others = [
        peers.ZenPeer(ruleset, "collect").decide(r, NOW),
        peers.ZenPeer(ruleset, "first").decide(r, NOW),
        peers.RuleEnginePeer(ruleset).decide(r, NOW),
    ]
    return ours, others


@pytest.mark.parametrize("name", CASES)
def test_peers_agree_with_ours_on_the_default_rules(name: str) -> None:
    ours, others = outcomes(DEFAULT, report(**CASES[name]))
    for other in others:
        assert peers.disagreements(ours, other) == [], (name, ours, other)


def test_the_cases_are_not_vacuous() -> None:
    seen: set[str] = set()
    for changes in CASES.values():
        ours, _ = outcomes(DEFAULT, report(**changes))
        assert ours.matched is not None
        seen.update(ours.matched)
    assert len(seen) >= len(DEFAULT.rules) * 2 // 3
    dv, [zen_all, zen_first, _] = outcomes(
        DEFAULT, report(**CASES["domestic violence, arrested adult, child victim"])
    )
    assert dv.unit_rule == "domestic-violence"
    assert dv.unit == "oslo.vold-naere-relasjoner"
    assert dv.priority is Priority.CRITICAL
    assert zen_all.matched == dv.matched
    assert dv.matched is not None
    assert "custody-adult" in dv.matched  # a priority-only rule among the matches
    assert zen_first.matched is None  # first-hit finds the unit rule only
    assert zen_first.unit_rule == "domestic-violence"
    no_place, _ = outcomes(DEFAULT, report(**CASES["rape, no municipality"]))
    assert (no_place.unit_rule, no_place.unit) == ("rape", TRIAGE_UNIT)
    edge, _ = outcomes(
        DEFAULT,
        report(**CASES["ages on the boundaries: suspect turned 18, victim turned 16 that day"]),
    )
    assert edge.matched is not None
    assert "custody-adult" in edge.matched
    assert "barnehus" not in edge.matched
    assert "violence-against-children" in edge.matched


def test_disagreements_are_found() -> None:
    ours = peers.Outcome(("a", "b"), "a", "oslo.x", Priority.HIGH)
    assert peers.disagreements(ours, ours) == []
    other = peers.Outcome(("a",), "b", "oslo.y", Priority.LOW)
    assert peers.disagreements(ours, other) == ["matched", "unit_rule", "unit", "priority"]
    unit_only = peers.Outcome(None, "a", "oslo.x", None)
    assert peers.disagreements(ours, unit_only) == []


ALL_KEYS = """
version: 1
priorities: {critical: 9, high: 7, normal: 4, low: 1}
rules:
  - id: late-or-local
    when:
      any:
        - report_older_than: {hours: 1}
        - {municipality: ['4601', '5601'], source: [patrulje]}
    then: {priority: high}
  - id: not-recent-law
    when:
      offence: {law: [strl], ssb_group: [Eiendomstyveri]}
      not: {incident_older_than: {days: 1}}
      quality_issues: false
    then: {section: okonomi-og-miljo}
  - id: flags-and-person
    when:
      flags: [weapon, ongoing_danger]
      person: {role: [suspect, victim], age_at_least: 18, age_under: 67, arrested: false}
      district: [Oslo, Vest]
    then: {unit: triage, priority: critical}
  - id: age-unknown-or-known
    when:
      any:
        - person: {role: suspect, age_known: false}
        - person: {role: witness, age_known: true}
    then: {priority: high}
  - id: any-offence
    when: {offence: {}}
    then: {section: barn-og-unge, priority: low}
"""


def test_every_condition_key_translates_and_agrees(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(ALL_KEYS, "utf-8")
    ruleset = load_ruleset(rules, UNITS, REF)
    free_adult = {"role": "victim", "birth_date": "1990-01-01"}
    variants: list[dict[str, Any]] = [
        {},
        {"reported_at": "2026-11-27T12:30:00+01:00"},
        {"incident": {"municipality": "4601"}},
        {"flags": {"weapon": True, "ongoing_danger": True}, "persons": [free_adult]},
        {"flags": {"weapon": True}, "persons": [free_adult, ADULT_ARRESTED]},
        {"incident": {"occurred_from": "2026-11-20T12:00:00"}},
        {"incident": {"municipality": "9998"}},
        {"persons": [AGE_UNKNOWN_ARRESTED]},
        {"persons": [{"role": "witness", "birth_date": "1990-01-01"}]},
        {"persons": [{"role": "witness"}, {"role": "suspect", "birth_date": "1990-01-01"}]},
    ]
    seen: set[str] = set()
    for changes in variants:
        ours, others = outcomes(ruleset, report(**changes))
        assert ours.matched is not None
        seen.update(ours.matched)
        for other in others:
            assert peers.disagreements(ours, other) == [], (changes, ours, other)
    assert seen == {r.id for r in ruleset.rules}


def test_the_generated_larger_rules_load_and_the_peers_agree(tmp_path: Path) -> None:
    rules = tmp_path / "rules.10x.yaml"
    rules.write_text(larger_rules(RULES.read_text("utf-8")), "utf-8")
    larger = load_ruleset(rules, UNITS, REF)
    # each section rule once more per district, and four local rules per district
    sections = sum(r.section is not None for r in DEFAULT.rules)
    districts = len(DEFAULT.catalogue.districts)
    assert len(larger.rules) == len(DEFAULT.rules) + (sections + 4) * districts
    for changes in CASES.values():
        ours, others = outcomes(larger, report(**changes))
        for other in others:
            assert peers.disagreements(ours, other) == [], (changes, ours, other)


def condition(text: str) -> condition_tree.Condition:
    """A `when` as a rules file writes it, parsed and checked."""
    return condition_tree.parse(Reader("when"), parse_yaml(text, "when"), 1, REF)


def test_translations_read_as_expected() -> None:
    when = condition("{all: [{person: {role: victim, age_under: 16}}, {not: {flag: weapon}}]}")
    assert peers.translate(when, peers.ZenDialect()) == (
        '(some(persons, (#.role in ["victim"] and (#.age != null and #.age < 16)))'
        ' and (not ("weapon" in flags)))'
    )
    assert peers.translate(when, peers.RuleEngineDialect()) == (
        "($any([true for p in persons if (p['role'] in ['victim'] and "
        "(p['age'] != null and p['age'] < 16))]) and (not ('weapon' in flags)))"
    )
    unknown = condition("{person: {role: suspect, age_known: false}}")
    assert peers.translate(unknown, peers.ZenDialect()) == (
        'some(persons, (#.role in ["suspect"] and #.age == null))'
    )
    assert peers.translate(unknown, peers.RuleEngineDialect()) == (
        "$any([true for p in persons if (p['role'] in ['suspect'] and p['age'] == null)])"
    )
