"""The rule index: it may only skip rules that cannot match, and it does skip them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import reference
from services.common.rules.condition_tree import FLAGS
from services.common.rules.conditions import Facts, PersonFacts
from services.common.rules.ruleset import RuleSet, load_ruleset

ROOT = Path(__file__).parents[3]
REF = reference.load()
UNITS = ROOT / "deploy" / "routing" / "units.yaml"
DEFAULT = load_ruleset(ROOT / "deploy" / "routing" / "rules.yaml", UNITS, REF)
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
MIXED = """version: 1
priorities: {critical: 9, high: 7, normal: 4, low: 1}
rules:
  - {id: oslo-theft, when: {district: Oslo, offence: {code: strl-321}}, then: {priority: low}}
  - {id: town, when: {municipality: ["0301", "4601"]}, then: {priority: high}}
  - id: mixed-any
    when: {any: [{offence: {law: toll}}, {flag: weapon}]}
    then: {priority: high}
  - id: same-dimension-any
    when: {any: [{offence: {code: strl-275}}, {offence: {ssb_group: Seksuallovbrudd}}]}
    then: {priority: critical}
  - id: negated
    when: {not: {offence: {code: strl-321}}, source: [politiet.no]}
    then: {priority: normal}
  - {id: clean, when: {quality_issues: false, flags: [weapon, hate_motive]}, then: {priority: high}}
  - {id: dirty, when: {quality_issues: true}, then: {unit: triage}}
  - id: youth
    when: {all: [{person: {role: suspect, age_under: 18}}, {district: [Vest, Øst]}]}
    then: {section: barn-og-unge}
"""

codes = st.sampled_from(sorted(REF.offences))
districts = st.sampled_from(sorted({m.police_district for m in REF.municipalities.values()}))
persons = st.builds(
    PersonFacts,
    st.sampled_from(["victim", "suspect", "witness"]),
    st.none() | st.integers(0, 90),
    st.booleans(),
)


@st.composite
def facts(draw: st.DrawFn) -> Facts:
    municipality = draw(st.sampled_from(["0301", "4601", "1103", "3401", None]))
    found = [(c, REF.offences[c].law, REF.offences[c].ssb_group) for c in draw(st.lists(codes))]
    return Facts(
        offences=(*found, *draw(st.lists(st.just((None, None, None)), max_size=1))),
        municipality=municipality,
        district=REF.district_of(municipality) if draw(st.booleans()) else draw(districts),
        source=draw(st.sampled_from(["politiet.no", "patrol", "toll"])),
        persons=tuple(draw(st.lists(persons, max_size=3))),
        flags=frozenset(draw(st.sets(st.sampled_from(sorted(FLAGS))))),
        quality_issues=draw(st.booleans()),
        incident_at=NOW - dt.timedelta(days=draw(st.integers(0, 60))),
        reported_at=NOW - dt.timedelta(hours=draw(st.integers(0, 48))),
        now=NOW,
    )


def mixed(tmp_path: Path) -> RuleSet:
    rules = tmp_path / "rules.yaml"
    rules.write_text(MIXED, "utf-8")
    return load_ruleset(rules, UNITS, REF)


def check_never_skips_a_match(ruleset: RuleSet, f: Facts) -> None:
    candidates = ruleset.index.candidates(f)
    assert [r.id for r in ruleset.rules if r.test(f)] == [r.id for r in candidates if r.test(f)]
    order = [ruleset.rules.index(r) for r in candidates]
    assert order == sorted(order)


@settings(max_examples=400)
@given(facts())
def test_the_default_rules_lose_no_match(f: Facts) -> None:
    check_never_skips_a_match(DEFAULT, f)


def test_mixed_conditions_lose_no_match(tmp_path: Path) -> None:
    ruleset = mixed(tmp_path)

    @settings(max_examples=600)
    @given(facts())
    def run(f: Facts) -> None:
        check_never_skips_a_match(ruleset, f)

    run()


def test_rules_that_cannot_match_are_not_candidates(tmp_path: Path) -> None:
    ruleset = mixed(tmp_path)
    theft_in_bergen = Facts(
        offences=(("strl-321", "strl", REF.offences["strl-321"].ssb_group),),
        municipality="4601",
        district=REF.district_of("4601"),
        source="patrol",
        persons=(),
        flags=frozenset(),
        quality_issues=False,
        incident_at=NOW,
        reported_at=NOW,
        now=NOW,
    )
    ids = [r.id for r in ruleset.index.candidates(theft_in_bergen)]
    # Skipped: a theft outside Oslo, no source match, no flag, no quality issue. Kept: the
    # municipality, the district `youth` needs, and `mixed-any`, whose branches share no
    # dimension to look it up by.
    assert ids == ["town", "mixed-any", "youth"]
