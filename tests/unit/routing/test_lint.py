"""The rule lint: unit rules that never decide, unreached units, overlaps with witnesses."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import reference
from services.common.rules.ruleset import load_ruleset
from services.routing import model as model_module
from services.routing.lint import Finding, lint

ROOT = Path(__file__).parents[3]
UNITS = ROOT / "deploy" / "routing" / "units.yaml"
HEAD = "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"


def findings(tmp_path: Path, *rules: str, units: Path = UNITS) -> list[Finding]:
    """Lint rules given as `id: when -> target` lines (rule n is on line n + 3)."""
    lines = []
    for rule in rules:
        head, target = rule.rsplit("->", 1)
        rule_id, when = head.split(":", 1)
        kind = "unit" if target.strip() == "triage" else "section"
        lines.append(f"  - {{id: {rule_id}, when: {when.strip()}, then: {{{kind}: {target}}}}}\n")
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + "".join(lines), "utf-8")
    return lint(load_ruleset(path, units, reference.load()))


def dead(found: list[Finding]) -> dict[str, str]:
    """Rule id -> the text of its 'can never decide' warning."""
    result = {}
    for f in found:
        if "can never decide" in f.text:
            assert f.severity == "warning"
            result[f.text.split(" rule ", 1)[1].split()[0]] = f.text
    return result


def notes(found: list[Finding]) -> list[str]:
    return [f.text for f in found if f.severity == "note"]


def test_a_rule_covered_by_an_earlier_broader_rule(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        "a: {offence: {ssb_group: Seksuallovbrudd}} -> vold-og-seksual",
        "b: {offence: {code: strl-291}} -> barn-og-unge",
    )
    assert dead(found)["b"].endswith(
        "rule b can never decide the unit: rule a (line 4) always matches first "
        "and sends those reports to vold-og-seksual, not barn-og-unge"
    )


def test_a_rule_covered_by_the_union_of_two_earlier_rules(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        "a: {offence: {ssb_group: Seksuallovbrudd}} -> vold-og-seksual",
        "b: {offence: {law: vtrl}} -> operative-tjenester",
        "c: {offence: {code: [strl-291, vtrl-3]}} -> barn-og-unge",
        "d: {offence: {code: [strl-291, strl-321]}} -> barn-og-unge",
    )
    assert "rules a, b (lines 4, 5) always match first" in dead(found)["c"]
    assert "or" in dead(found)["c"].split("send those reports to")[1]
    assert "d" not in dead(found)  # strl-321 (theft) is neither


def test_a_later_rule_with_a_case_of_its_own_is_not_reported(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        "a: {offence: {code: strl-291}} -> barn-og-unge",
        "b: {offence: {ssb_group: Seksuallovbrudd}} -> vold-og-seksual",
    )
    assert dead(found) == {}
    assert notes(found) == [
        f"{tmp_path}/rules.yaml:5: rule b overlaps rule a (line 4) with a different unit: "
        "offence strl-291 goes to barn-og-unge, not vold-og-seksual"
    ]


def test_an_overlap_with_a_different_unit_has_a_witness(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        "a: {offence: {code: strl-282}} -> vold-naere-relasjoner",
        "b: {flag: domestic_violence} -> barn-og-unge",
    )
    assert dead(found) == {}
    assert len(notes(found)) == 1
    assert notes(found)[0].endswith(
        "rule b overlaps rule a (line 4) with a different unit: "
        "offence strl-282 with flag domestic_violence goes to vold-naere-relasjoner, "
        "not barn-og-unge"
    )


def test_an_overlap_with_the_same_unit_is_no_conflict(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        "a: {offence: {code: strl-282}} -> vold-naere-relasjoner",
        "b: {flag: domestic_violence} -> vold-naere-relasjoner",
    )
    assert dead(found) == {}
    assert notes(found) == []


def test_rules_that_need_different_offences_are_no_overlap(tmp_path: Path) -> None:
    # a report with both offences matches both, but rule order is what settles that
    found = findings(
        tmp_path,
        "a: {offence: {code: strl-291}} -> vold-og-seksual",
        "b: {offence: {code: strl-321}} -> barn-og-unge",
    )
    assert notes(found) == []


def test_not_and_the_smallest_set_of_covering_rules(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        "a: {all: [{offence: {code: strl-291}}, {not: {person: {role: victim, age_under: 18}}}]}"
        " -> vold-og-seksual",
        "b: {offence: {code: strl-291}} -> barn-og-unge",
        "c: {all: [{offence: {code: strl-291}}, {person: {role: victim, age_under: 16}}]}"
        " -> digitalt-politiarbeid",
    )
    assert "b" not in dead(found)  # a child victim
    assert "rule b (line 5) always matches first" in dead(found)["c"]
    assert any(
        "rule b overlaps rule a" in n and "offence strl-291 goes to vold-og-seksual" in n
        for n in notes(found)
    )


def test_person_ages_include_the_unknown_age(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        "a: {person: {role: victim, age_under: 16}} -> barn-og-unge",
        "b: {person: {role: victim, age_at_least: 16}} -> vold-og-seksual",
        "c: {person: {role: victim, age_under: 18}} -> digitalt-politiarbeid",
        "d: {person: {role: victim}} -> okonomi-og-miljo",
        "e: {person: {role: suspect, arrested: true, age_under: 18}} -> operative-tjenester",
    )
    assert "rules a, b (lines 4, 5) always match first" in dead(found)["c"]
    assert set(dead(found)) == {"c"}  # d: a victim of unknown age; e: another person
    assert any(
        "rule e overlaps rule a" in n
        and "with a victim aged 15 and an arrested suspect aged 17 goes to barn-og-unge" in n
        for n in notes(found)
    )


def test_flags_quality_and_a_unit_of_its_own(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        "q: {quality_issues: true} -> triage",
        "a: {flags: [weapon, hate_motive]} -> vold-og-seksual",
        "b: {flag: weapon} -> barn-og-unge",
        "c: {all: [{flag: weapon}, {flag: hate_motive}]} -> digitalt-politiarbeid",
        "d: {quality_issues: false} -> okonomi-og-miljo",
        "e: {offence: {code: strl-321}} -> operative-tjenester",
    )
    assert set(dead(found)) == {"c", "e"}
    assert "rule a (line 5) always matches first" in dead(found)["c"]
    assert dead(found)["e"].endswith(
        "rules q, d (lines 4, 8) always match first and send those reports to "
        "okonomi-og-miljo or triage, not operative-tjenester"
    )
    assert any(
        "rule b overlaps rule q" in n and "with flag weapon and quality issues goes to triage" in n
        for n in notes(found)
    )


def test_incident_and_report_ages(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        "a: {incident_older_than: {days: 14}} -> vold-og-seksual",
        "b: {incident_older_than: {days: 10}} -> barn-og-unge",
        "c: {incident_older_than: {weeks: 3}} -> digitalt-politiarbeid",
        "d: {not: {incident_older_than: {weeks: 2}}} -> okonomi-og-miljo",
        "e: {report_older_than: {hours: 1}} -> operative-tjenester",
    )
    assert set(dead(found)) == {"c", "e"}
    assert "rules a, d (lines 4, 7) always match first" in dead(found)["e"]
    assert any(
        "rule d overlaps rule b" in n
        # the bound as rule d writes it (weeks: 2), not as another rule or a computation would
        and "the incident more than 10 days but at most 2 weeks old goes to barn-og-unge" in n
        for n in notes(found)
    )


def test_places_and_sources(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        "a: {district: Oslo} -> vold-og-seksual",
        "b: {municipality: '0301'} -> barn-og-unge",
        "c: {municipality: ['0301', '4601']} -> digitalt-politiarbeid",
        "d: {source: altinn} -> okonomi-og-miljo",
        "e: {all: [{source: [altinn, web]}, {not: {district: Vest}}]} -> operative-tjenester",
    )
    assert set(dead(found)) == {"b"}
    assert any(
        "rule c overlaps rule a" in n and "municipality 0301 Oslo goes to vold-og-seksual" in n
        for n in notes(found)
    )
    # where c decides (0301 and 4601), rule a decides first or rule e does not match
    assert not any("rule e overlaps rule c" in n for n in notes(found))
    assert any(
        "rule e overlaps rule d" in n and "and source altinn goes to okonomi-og-miljo" in n
        for n in notes(found)
    )


def test_a_condition_that_never_holds(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        "a: {all: [{flag: weapon}, {not: {flag: weapon}}]} -> vold-og-seksual",
    )
    # said once, as a rule that matches nothing (not again as one that never decides)
    assert dead(found) == {}
    (never,) = [f for f in found if "matches no report" in f.text]
    assert never.severity == "warning"
    assert never.text.endswith("rule a matches no report: its conditions never hold together")
    assert "section vold-og-seksual is reached by no rule and no default" in [f.text for f in found]


def test_two_offences_when_a_rule_needs_them(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        "a: {offence: {code: strl-282}} -> vold-naere-relasjoner",
        "b: {all: [{offence: {code: strl-282}}, {offence: {code: strl-321}}]} -> barn-og-unge",
        "c: {all: [{offence: {code: strl-321}}, {not: {offence: {code: strl-282}}}]}"
        " -> digitalt-politiarbeid",
    )
    assert "rule a (line 4) always matches first" in dead(found)["b"]
    assert "c" not in dead(found)


def test_a_section_rule_does_not_decide_where_the_district_lacks_the_section(
    tmp_path: Path,
) -> None:
    units = tmp_path / "units.yaml"
    units.write_text(
        UNITS.read_text("utf-8").replace(
            "Oslo: {slug: oslo, default: felles-etterforskning}",
            "Oslo: {slug: oslo, default: felles-etterforskning,"
            " sections: [felles-etterforskning, vold-og-seksual]}",
        ),
        "utf-8",
    )
    found = findings(
        tmp_path,
        "a: {flag: weapon} -> barn-og-unge",
        "b: {flag: weapon} -> vold-og-seksual",
        "c: {all: [{flag: weapon}, {district: Oslo}]} -> okonomi-og-miljo",
        units=units,
    )
    # b decides in Oslo, where a's section is missing; c matches only in Oslo, which has
    # no section okonomi-og-miljo
    assert set(dead(found)) == {"c"}
    assert dead(found)["c"].endswith(
        "rule c can never decide the unit: "
        "it matches only where the district has no section okonomi-og-miljo"
    )
    unreached = [f.text for f in found if "reached by no rule" in f.text]
    assert "unit vest.vold-og-seksual is reached by no rule and no default" in unreached
    assert not any("oslo." in u for u in unreached)
    assert "section okonomi-og-miljo is reached by no rule and no default" in unreached


def test_a_search_too_large_is_bounded_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_module, "BUDGET", 3)
    found = findings(
        tmp_path,
        "a: {flag: weapon} -> vold-og-seksual",
        "b: {all: [{flag: hate_motive}, {source: [x, y]}, {quality_issues: false},"
        " {person: {role: victim, age_under: 16}}, {person: {role: suspect}}]} -> barn-og-unge",
    )
    assert dead(found) == {}  # not found is not proof
    assert any(
        f.severity == "note"
        and "rule b may never decide the unit: no report found in which it decides first "
        "(searched only 3 of "
        in f.text
        for f in found
    )
    assert not any("barn-og-unge is reached by no rule" in f.text for f in found)


def test_the_default_rules_have_no_warnings() -> None:
    ruleset = load_ruleset(ROOT / "deploy" / "routing" / "rules.yaml", UNITS, reference.load())
    found = lint(ruleset)
    assert [f.text for f in found if f.severity == "warning"] == []
    assert any(
        "rule youth-suspect overlaps rule homicide" in f.text
        and "offence strl-275 with a suspect aged 17 goes to vold-og-seksual, not barn-og-unge"
        in f.text
        for f in found
    )


# --- a rule that matches no report ---------------------------------------------------------


def never(tmp_path: Path, when: str, then: str = "{priority: high}") -> list[str]:
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + f"  - {{id: a, when: {when}, then: {then}}}\n", "utf-8")
    found = lint(load_ruleset(path, UNITS, reference.load()))
    texts = [f.text for f in found if "matches no report" in f.text]
    assert all(f.severity == "warning" for f in found if f.text in texts)
    return texts


@pytest.mark.parametrize(
    ("when", "why"),
    [
        # the new user's: nobody is both under 18 and at least 18
        ("{person: {age_under: 18, age_at_least: 18}}", "`person` (line 4) holds for no person"),
        ("{person: {age_under: 0}}", "`person` (line 4) holds for no person"),
        ("{person: {age_at_least: 30, age_under: 20}}", "`person` (line 4) holds for no person"),
        ("{all: [{district: Oslo}, {district: Vest}]}", "its conditions never hold together"),
        (
            "{all: [{incident_older_than: {days: 14}}, {not: {incident_older_than: {weeks: 2}}}]}",
            "its conditions never hold together",
        ),
        (
            "{all: [{municipality: '4601'}, {district: Oslo}]}",  # Bergen is in Vest
            "its conditions never hold together",
        ),
        (
            "{all: [{quality_issues: true}, {quality_issues: false}]}",
            "its conditions never hold together",
        ),
    ],
)
def test_a_rule_whose_condition_never_holds_is_a_warning(
    tmp_path: Path, when: str, why: str
) -> None:
    assert never(tmp_path, when) == [f"{tmp_path}/rules.yaml:4: rule a matches no report: {why}"]
    # a unit rule the same, once (not again as a rule that never decides the unit)
    assert never(tmp_path, when, "{section: barn-og-unge}") == [
        f"{tmp_path}/rules.yaml:4: rule a matches no report: {why}"
    ]


@pytest.mark.parametrize(
    "when",
    [
        "{person: {age_under: 18, age_at_least: 17}}",  # a 17-year-old
        "{all: [{person: {age_under: 18}}, {person: {age_at_least: 18}}]}",  # two persons
        "{all: [{municipality: '4601'}, {district: Vest}]}",
    ],
)
def test_a_rule_that_some_report_matches_is_not(tmp_path: Path, when: str) -> None:
    assert never(tmp_path, when) == []
