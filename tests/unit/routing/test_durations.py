"""Durations in rules: bounded by what law can mean, refused in one line, shown as written.

The bound is 100 years (36,525 days of 365.25): the longest period in the penal code is the
25-year limitation period (straffeloven § 86), so a longer deadline or age of an act is a
typing error; 100 years after any time a report can have (1900-2100) is still a time that
Python and PostgreSQL hold. In each unit: 5,217 whole weeks (36,525 / 7 = 5,217.9), 36,525
days, 876,600 hours (36,525 x 24), 52,596,000 minutes (x 60).
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import msgspec
import pytest

from schemas import reference
from schemas.report import Report
from services.common.rules.engine import decide
from services.common.rules.reading import WrongTypeError
from services.common.rules.ruleset import load_ruleset
from services.routing.cli import main
from services.routing.lint import lint

ROOT = Path(__file__).parents[3]
UNITS = ROOT / "deploy" / "routing" / "units.yaml"
RULES = ROOT / "deploy" / "routing" / "rules.yaml"
HEAD = "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"
TOOL = Path(sys.executable).parent / "fsi-rules"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def rules_file(tmp_path: Path, *rules: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + "".join(rules), "utf-8")
    return path


def deadline(amount: str, moment: str = "report", when: str = "{flag: weapon}") -> str:
    return (
        f"  - {{id: a, when: {when}, then: {{deadline: {{{amount}, from: {moment}, basis: x,"
        " met_by: [released]}}}\n"
    )


def run(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


TOO_LONG = {
    # the new user's three inputs
    "days: 3000000": "days: 36525",
    "days: 99999999999999999999": "days: 36525",
    "minutes: 99999999999999999": "minutes: 52596000",
    # one past the bound in every unit
    "weeks: 5218": "weeks: 5217",
    "days: 36526": "days: 36525",
    "hours: 876601": "hours: 876600",
    "minutes: 52596001": "minutes: 52596000",
}


@pytest.mark.parametrize(("amount", "most"), TOO_LONG.items(), ids=TOO_LONG.keys())
def test_a_deadline_past_100_years_is_refused_in_one_line(
    tmp_path: Path, amount: str, most: str
) -> None:
    path = rules_file(tmp_path, deadline(amount))
    commands: list[list[str | Path]] = [
        ["check", path],
        ["explain", path, ROOT / "schemas/examples/report.bicycle-theft.json"],
    ]
    for command in commands:
        code, out, err = run(*command)
        assert (code, out) == (2, "")
        assert err == (
            f"error: {path}:4: rule a: `{amount}` is longer than 100 years, more than any time"
            f" in law: write at most `{most}`\n"
        )


@pytest.mark.parametrize("key", ["incident_older_than", "report_older_than"])
def test_an_age_of_an_act_or_report_past_100_years_is_refused(tmp_path: Path, key: str) -> None:
    path = rules_file(
        tmp_path, f"  - {{id: a, when: {{{key}: {{weeks: 5218}}}}, then: {{priority: high}}}}\n"
    )
    with pytest.raises(WrongTypeError) as caught:
        load_ruleset(path, UNITS, reference.load())
    assert caught.value.reason == (
        "`weeks: 5218` is longer than 100 years, more than any time in law: write at most"
        " `weeks: 5217`"
    )


def test_the_longest_deadline_is_computed_from_the_latest_report(tmp_path: Path) -> None:
    # The router would dead-letter every report the rule matched if `due_at` overflowed.
    ruleset = load_ruleset(rules_file(tmp_path, deadline("weeks: 5217")), UNITS, reference.load())
    report = msgspec.json.decode(
        b'{"source": "s", "external_id": "x", "reported_at": "2100-12-31T23:59:59Z",'
        b' "incident": {"occurred_from": "2100-12-31T23:00:00Z", "description": "d",'
        b' "municipality": "0301"}, "offences": [{"code": "strl-321"}],'
        b' "flags": {"weapon": true}}',
        type=Report,
    )
    now = dt.datetime(2100, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    decision = decide(report, uuid.uuid4(), ruleset, now)
    assert decision.deadline is not None
    assert decision.deadline.due_at == now + dt.timedelta(weeks=5217)


def test_the_installed_tool_prints_no_traceback_for_the_new_users_inputs(tmp_path: Path) -> None:
    for amount in TOO_LONG:
        path = rules_file(tmp_path, deadline(amount))
        for command in ("check", "explain"):
            extra = (
                []
                if command == "check"
                else [str(ROOT / "schemas/examples/report.bicycle-theft.json")]
            )
            done = subprocess.run(  # noqa: S603 - our own entry point
                [str(TOOL), command, str(path), *extra],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env=ENV,
            )
            assert done.returncode == 2, (amount, done.stderr)
            assert done.stdout == ""
            assert len(done.stderr.splitlines()) == 1
            assert "Traceback" not in done.stderr


# --- shown as written -----------------------------------------------------------------------


def test_a_deadline_of_0_hours_is_shown_as_0_hours(tmp_path: Path) -> None:
    youth = "{person: {arrested: true, age_under: 18}}"
    path = rules_file(tmp_path, deadline("hours: 0", "arrest", youth))
    texts = [f.text for f in lint(load_ruleset(path, UNITS, reference.load()))]
    (lost,) = [t for t in texts if "is lost" in t]
    assert "gives a deadline (0 hours from the arrest)" in lost
    assert lost.endswith(
        "no rule gives a deadline from the arrest within 0 hours met only by `released`"
    )
    assert not any("0 days" in t for t in texts)


@pytest.mark.parametrize(
    ("amount", "words"),
    [("weeks: 1", "1 week"), ("days: 14", "14 days"), ("minutes: 90", "90 minutes")],
)
def test_a_deadline_is_shown_in_the_unit_it_was_written_in(
    tmp_path: Path, amount: str, words: str
) -> None:
    youth = "{person: {arrested: true, age_under: 18}}"
    path = rules_file(tmp_path, deadline(amount, "arrest", youth))
    (lost,) = [
        f.text for f in lint(load_ruleset(path, UNITS, reference.load())) if "lost" in f.text
    ]
    assert f"gives a deadline ({words} from the arrest)" in lost


def test_an_age_of_an_act_is_shown_as_written_in_a_witness(tmp_path: Path) -> None:
    path = rules_file(
        tmp_path,
        "  - {id: a, when: {not: {incident_older_than: {hours: 0}}},"
        " then: {section: barn-og-unge}}\n",
        "  - {id: b, when: {flag: weapon}, then: {section: vold-og-seksual}}\n",
    )
    notes = [f.text for f in lint(load_ruleset(path, UNITS, reference.load()))]
    (overlap,) = [t for t in notes if "rule b overlaps rule a" in t]
    assert "the incident at most 0 hours old" in overlap
