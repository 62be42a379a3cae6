"""`fsi-rules` on good and bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

from schemas import reference
from services.common.rules.units import district_slug
from services.routing.cli import main

ROOT = Path(__file__).parents[3]
RULES = ROOT / "deploy" / "routing" / "rules.yaml"
CASES = ROOT / "deploy" / "routing" / "rules.test.yaml"
HEAD = "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"


def run(*args: str | Path) -> tuple[int, str]:
    """Exit status and standard output; anything on standard error fails the test."""
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], out=out, err=err)
    assert err.getvalue() == ""
    return code, out.getvalue()


def refused(*args: str | Path) -> str:
    """The one line on standard error of a run refused as unusable input (status 2)."""
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], out=out, err=err)
    assert code == 2, (out.getvalue(), err.getvalue())
    assert out.getvalue() == ""
    (line,) = err.getvalue().splitlines()
    return line


def test_check_default_rules() -> None:
    code, text = run("check", RULES)
    assert code == 0
    assert "warning:" not in text
    assert text.splitlines()[-1].startswith("ok: 26 rules")


def test_check_bad_rules_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        HEAD + "  - id: a\n    when: {flag: wepon}\n    then: {priority: high}\n", "utf-8"
    )
    assert refused("check", bad) == (
        f"error: {bad}:5: rule a: unknown flag `wepon` (did you mean `weapon`?)"
    )


def test_check_lints_shadowed_rules_and_unreached_sections(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        HEAD
        + "  - {id: first, when: {flag: weapon}, then: {section: vold-og-seksual}}\n"
        + "  - {id: second, when: {flag: weapon}, then: {section: barn-og-unge}}\n",
        "utf-8",
    )
    code, text = run("check", rules)
    assert code == 1
    assert (
        f"warning: {rules}:5: rule second can never decide the unit: rule first (line 4) "
        "always matches first and sends those reports to vold-og-seksual, not barn-og-unge"
    ) in text
    assert "warning: section okonomi-og-miljo is reached by no rule and no default" in text


def test_overlaps_are_notes_that_fail_check_only_when_strict(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        HEAD
        + "  - {id: dv, when: {flag: domestic_violence}, then: {section: vold-naere-relasjoner}}\n"
        + "  - {id: sexual, when: {offence: {ssb_group: Seksuallovbrudd}},"
        + " then: {section: vold-og-seksual}}\n",
        "utf-8",
    )
    units = tmp_path / "units.yaml"
    units.write_text(
        "sections: {felles-etterforskning: F, vold-og-seksual: V, vold-naere-relasjoner: N}\n"
        "districts:\n"
        + "".join(
            f"  {d}: {{slug: {district_slug(d)}, default: felles-etterforskning}}\n"
            for d in reference.POLICE_DISTRICTS
        ),
        "utf-8",
    )
    code, text = run("check", rules, "--units", units)
    assert code == 0
    assert (
        f"note: {rules}:5: rule sexual overlaps rule dv (line 4) with a different unit: "
        "offence strl-291 with flag domestic_violence goes to vold-naere-relasjoner, "
        "not vold-og-seksual"
    ) in text
    assert run("check", rules, "--units", units, "--strict")[0] == 1
    assert run("check", RULES, "--strict")[0] == 1  # the default rules overlap on purpose


def test_the_default_rules_pass_their_test_file() -> None:
    code, text = run("test", RULES, CASES)
    assert code == 0
    assert text.rstrip().endswith("43 passed, 0 failed")


def test_a_failing_case_fails_the_run(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        "cases:\n  - name: theft is not homicide\n    now: 2026-11-27T12:00:00Z\n"
        "    report_file: report.json\n"
        "    expect: {unit: oslo.vold-og-seksual, priority: critical}\n",
        "utf-8",
    )
    report = json.loads((ROOT / "schemas/examples/report.bicycle-theft.json").read_text("utf-8"))
    (tmp_path / "report.json").write_text(json.dumps(report), "utf-8")
    code, text = run("test", RULES, cases)
    assert code == 1
    assert (
        "FAIL theft is not homicide: unit oslo.felles-etterforskning, expected oslo.vold-og-seksual"
        in text
    )
    assert "0 passed, 1 failed" in text


def test_explain_says_which_condition_failed() -> None:
    code, text = run("explain", RULES, ROOT / "schemas/examples/report.youth-robbery.json")
    assert code == 0
    assert "match     custody-youth" in text
    assert "no match  homicide (line 71): `offence` (line 73) fails" in text
    assert '"unit": "vest.barn-og-unge"' in text


def test_missing_and_unreadable_input(tmp_path: Path) -> None:
    nope = tmp_path / "nope.yaml"
    assert refused("check", nope) == f"error: {nope}: No such file or directory"
    broken = tmp_path / "cases.yaml"
    broken.write_text("cases: [{name: x}]", "utf-8")
    assert refused("test", RULES, broken) == (
        f"error: {broken}:1: $.cases[0]: Object missing required field `expect`"
    )


def test_the_last_line_of_check_agrees_with_its_exit_status(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        HEAD
        + "  - {id: first, when: {flag: weapon}, then: {section: vold-og-seksual}}\n"
        + "  - {id: second, when: {flag: weapon}, then: {section: barn-og-unge}}\n",
        "utf-8",
    )
    code, text = run("check", rules)
    warnings = sum(line.startswith("warning:") for line in text.splitlines())
    assert (code, warnings) == (1, 7)  # rule second, and six sections nothing reaches
    # 12 districts with 8 sections each, and the two national units (Kripos, Økokrim).
    assert text.splitlines()[-1].startswith("failed: 7 warnings; 2 rules, 98 units, version ")
    assert "ok:" not in text
    # notes fail it only with --strict, and then the last line says so
    code, text = run("check", RULES)
    assert (code, text.splitlines()[-1][:12]) == (0, "ok: 26 rules")
    notes = sum(line.startswith("note:") for line in text.splitlines())
    code, text = run("check", RULES, "--strict")
    assert code == 1
    assert text.splitlines()[-1].startswith(f"failed: {notes} notes (--strict); 26 rules, ")
