"""The deadline lint: a rule whose legal deadline is lost when a report lacks a fact."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from schemas import reference
from services.common.rules.ruleset import load_ruleset
from services.routing import model as model_module
from services.routing.cli import main
from services.routing.lint import Finding, lint

ROOT = Path(__file__).parents[3]
UNITS = ROOT / "deploy" / "routing" / "units.yaml"
RULES = ROOT / "deploy" / "routing" / "rules.yaml"
HEAD = "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"


def deadline_rule(
    rule_id: str,
    when: str,
    amount: str,
    moment: str = "arrest",
    met_by: str = "[brought_before_court, released]",
) -> str:
    return (
        f"  - id: {rule_id}\n    when: {when}\n    then:\n"
        f"      deadline: {{{amount}, from: {moment}, basis: x, met_by: {met_by}}}\n"
    )


def findings(tmp_path: Path, *rules: str) -> list[Finding]:
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + "".join(rules), "utf-8")
    return [f for f in lint(load_ruleset(path, UNITS, reference.load())) if "deadline" in f.text]


ADULT = "{person: {role: suspect, arrested: true, age_at_least: 18}}"
YOUTH = "{person: {role: suspect, arrested: true, age_under: 18}}"
UNKNOWN = "{person: {role: suspect, arrested: true, age_known: false}}"
ANY_ARREST = "{person: {role: suspect, arrested: true}}"


def test_the_default_rules_before_the_unknown_age_rules_lose_six_deadlines(tmp_path: Path) -> None:
    old = (ROOT / "deploy/routing/rules.yaml").read_text("utf-8")
    start = old.index("  # strpl. § 183 holds for everyone arrested.")
    end = old.index("  - id: homicide")
    without = tmp_path / "rules.yaml"
    text = old[:start] + old[end:]
    for rule in (
        "barnehus-recent-age-unknown",
        "barnehus-age-unknown",
        "youth-suspect-age-unknown",
    ):
        begin = text.index(f"  - id: {rule}\n")
        text = text[:begin] + text[text.index("\n\n", begin) + 2 :]
    without.write_text(text, "utf-8")
    found = lint(load_ruleset(without, UNITS, reference.load()))
    lost = {f.text.split(": rule ")[1].split()[0] for f in found if "is lost" in f.text}
    assert lost == {
        "custody-adult",
        "custody-youth",
        "barnehus-recent",
        "barnehus-under-6",
        "barnehus",
        "youth-suspect",
    }
    (custody,) = [f for f in found if "rule custody-adult gives" in f.text]
    assert custody.severity == "warning"
    assert custody.text.endswith(
        "rule custody-adult gives a deadline (3 days from the arrest) that is lost when a "
        "person's age is missing: offence strl-155 with an arrested victim aged 30 gets it, "
        "but with the age of an arrested victim unknown no rule gives a deadline from the "
        "arrest within 3 days met only by `brought_before_court` or `released`"
    )


def test_the_default_rules_lose_no_deadline() -> None:
    found = lint(load_ruleset(RULES, UNITS, reference.load()))
    assert [f for f in found if f.severity == "warning"] == []


def test_a_rule_for_the_unknown_age_as_strict_covers_both(tmp_path: Path) -> None:
    assert (
        findings(
            tmp_path,
            deadline_rule("adult", ADULT, "days: 3"),
            deadline_rule("youth", YOUTH, "days: 1"),
            deadline_rule("unknown", UNKNOWN, "days: 1"),
        )
        == []
    )


def test_an_unknown_age_rule_due_later_does_not_cover_the_stricter_one(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        deadline_rule("youth", YOUTH, "days: 1"),
        deadline_rule("unknown", UNKNOWN, "days: 3"),
    )
    assert [f.text.split(": rule ")[1].split()[0] for f in found] == ["youth"]
    assert "no rule gives a deadline from the arrest within 1 day" in found[0].text


def test_an_unknown_age_rule_met_by_another_event_does_not_cover(tmp_path: Path) -> None:
    # A sibling met by `closed` would count a custody case as met when it was closed,
    # though nobody was brought before a court: the legal deadline is lost all the same.
    found = findings(
        tmp_path,
        deadline_rule("youth", YOUTH, "days: 1", met_by="[brought_before_court]"),
        deadline_rule("unknown", UNKNOWN, "days: 1", met_by="[brought_before_court, closed]"),
    )
    assert [f.text.split(": rule ")[1].split()[0] for f in found] == ["youth"]
    assert found[0].text.endswith(
        "no rule gives a deadline from the arrest within 1 day met only by `brought_before_court`"
    )


def test_an_unknown_age_rule_met_by_fewer_events_covers(tmp_path: Path) -> None:
    # Stricter is safe: every event that meets the sibling meets the rule's own deadline.
    assert (
        findings(
            tmp_path,
            deadline_rule("youth", YOUTH, "days: 1"),
            deadline_rule("unknown", UNKNOWN, "days: 1", met_by="[brought_before_court]"),
        )
        == []
    )


def test_a_deadline_from_another_moment_does_not_cover(tmp_path: Path) -> None:
    found = findings(
        tmp_path,
        deadline_rule("youth", YOUTH, "days: 1"),
        deadline_rule("unknown", UNKNOWN, "hours: 1", moment="report"),
    )
    assert [f.text.split(": rule ")[1].split()[0] for f in found] == ["youth"]


def test_a_rule_that_reads_no_age_keeps_its_deadline(tmp_path: Path) -> None:
    assert findings(tmp_path, deadline_rule("any", ANY_ARREST, "days: 1")) == []


def test_a_deadline_that_needs_the_district_is_lost_without_a_municipality(
    tmp_path: Path,
) -> None:
    oslo = "{district: Oslo, person: {role: suspect, arrested: true}}"
    (found,) = findings(tmp_path, deadline_rule("oslo", oslo, "hours: 12"))
    assert found.severity == "warning"
    assert "lost when the municipality is missing" in found.text
    assert "but with no municipality no rule gives a deadline" in found.text
    assert (
        findings(
            tmp_path,
            deadline_rule("oslo", oslo, "hours: 12"),
            deadline_rule("anywhere", ANY_ARREST, "hours: 12"),
        )
        == []
    )


def test_a_deadline_that_needs_no_quality_issue_is_lost_with_the_issue(tmp_path: Path) -> None:
    clean = "{quality_issues: false, person: {role: suspect, arrested: true}}"
    found = findings(tmp_path, deadline_rule("clean", clean, "days: 1"))
    assert len(found) == 2  # with a person's age missing, and without a municipality
    assert "unknown (and a quality issue saying so) no rule gives" in found[0].text
    assert "no municipality (and a quality issue saying so) no rule gives" in found[1].text


def test_a_bounded_search_is_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_module, "BUDGET", 3)
    found = findings(
        tmp_path,
        deadline_rule("adult", ADULT, "days: 3"),
        deadline_rule("unknown", UNKNOWN, "days: 1"),
    )
    assert found
    assert {f.severity for f in found} == {"note"}
    assert all("searched only" in f.text for f in found)


def test_fsi_rules_check_fails_on_a_lost_deadline(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + deadline_rule("youth", YOUTH, "days: 1"), "utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["check", str(path)], out=out, err=err) == 1
    assert f"warning: {path}:4: rule youth gives a deadline (1 day from the arrest)" in (
        out.getvalue()
    )
    assert err.getvalue() == ""


def test_the_installed_tool_passes_the_default_rules() -> None:
    tool = Path(sys.executable).parent / "fsi-rules"  # the entry point installed beside it
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's code, whatever was installed
    done = subprocess.run(  # noqa: S603 - our own entry point
        [str(tool), "check", str(RULES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning:" not in done.stdout


# --- a deadline from an arrest in a report with no arrest ------------------------------------


def arrests(tmp_path: Path, *rules: str) -> list[Finding]:
    return [f for f in findings(tmp_path, *rules) if "no arrested person" in f.text]


def test_a_deadline_from_an_arrest_that_a_report_without_one_matches(tmp_path: Path) -> None:
    # the new user's: the condition can hold with nobody arrested, so the rule matches and
    # the engine, with no arrest to count from, gives `deadline: null`
    (found,) = arrests(
        tmp_path, deadline_rule("custody-suspect", "{person: {role: suspect}}", "days: 1")
    )
    assert found.severity == "warning"
    assert found.text == (
        f"{tmp_path}/rules.yaml:4: rule custody-suspect gives a deadline (1 day from the arrest)"
        " that a report with no arrested person does not get: offence strl-155 with a suspect"
        " matches the rule and gets no deadline from it (a deadline from the arrest needs"
        " `arrested: true` in a `person` condition that must hold)"
    )


@pytest.mark.parametrize(
    "when",
    [
        "{flag: weapon}",  # no person at all
        "{any: [{person: {arrested: true}}, {flag: weapon}]}",  # one branch needs no arrest
        "{person: {arrested: false}}",
        "{not: {person: {arrested: true}}}",
        "{person: {role: victim, age_under: 18}}",
    ],
)
def test_every_condition_that_holds_without_an_arrest_is_found(tmp_path: Path, when: str) -> None:
    found = arrests(tmp_path, deadline_rule("r", when, "hours: 12"))
    assert [f.severity for f in found] == ["warning"]


def test_a_condition_that_needs_an_arrest_is_not_warned_about(tmp_path: Path) -> None:
    assert arrests(tmp_path, deadline_rule("any", ANY_ARREST, "days: 1")) == []
    assert arrests(tmp_path, deadline_rule("youth", YOUTH, "days: 1")) == []
    both = "{all: [{person: {arrested: true, role: victim}}, {not: {flag: weapon}}]}"
    assert arrests(tmp_path, deadline_rule("both", both, "days: 1")) == []
    # a deadline from the report needs no arrest
    assert arrests(tmp_path, deadline_rule("r", "{flag: weapon}", "days: 1", "report")) == []


def test_the_default_custody_rules_hold_for_anyone_arrested() -> None:
    # strpl. § 183: "den som er pågrepet": no role is asked for, so an arrested "victim" or
    # "reporter" (flagged person.arrest_not_suspect by the intake) keeps the deadline
    ruleset = load_ruleset(RULES, UNITS, reference.load())
    custody = {r.id: r for r in ruleset.rules if r.deadline and r.deadline.moment == "arrest"}
    assert set(custody) == {"custody-adult", "custody-youth", "custody-age-unknown"}
    for rule in custody.values():
        assert "role" not in rule.source["when"]["person"]
        assert rule.source["when"]["person"]["arrested"] is True
