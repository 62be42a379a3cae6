"""`fsi-rules` on unusable input: one line naming the file, the line and the problem, exit
status 2 (distinct from 1, a failed check or test), never a traceback; help does nothing else.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.routing import cli
from services.routing.cli import main

ROOT = Path(__file__).parents[3]
RULES = ROOT / "deploy" / "routing" / "rules.yaml"
DATA = ROOT / "tests" / "data" / "real_inputs"
TOOL = Path(sys.executable).parent / "fsi-rules"  # the entry point installed beside it
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's code, whatever was installed
REPORT = """    report:
      source: rules-test
      external_id: case
      reported_at: 2026-11-27T10:00:00+01:00
      incident: {occurred_from: 2026-11-26T22:00:00+01:00, municipality: 0301, description: d}
      offences: [{code: strl-321}]
"""


def run(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def refused(*args: str | Path) -> str:
    """The one line on standard error of a run refused as unusable input (status 2)."""
    code, out, err = run(*args)
    assert code == 2, (out, err)
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("error: ")
    return line


def cases(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cases.yaml"
    path.write_text(text, "utf-8")
    return path


def test_the_example_naive_now_is_europe_oslo() -> None:
    code, out, err = run("test", RULES, DATA / "rules-tests-naive-now.yaml")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "1 passed, 0 failed"


def test_a_naive_now_reads_as_oslo_time_where_it_matters(tmp_path: Path) -> None:
    # The act 13 days 23.5 hours before 12:00 Oslo time (11:00 UTC), so under two weeks old:
    # barnehusavhør within one week of the report (forskrift 24.09.2015 nr. 1098). Read as
    # 12:00 UTC the act would be more than two weeks old.
    path = cases(
        tmp_path,
        "cases:\n  - name: barnehus, act under two weeks old\n    now: 2026-11-27 12:00:00\n"
        + REPORT.replace("2026-11-26T22:00:00+01:00", "2026-11-13T12:30:00+01:00")
        .replace("strl-321", "strl-282")
        .replace("offences:", "persons: [{role: victim, birth_date: 2015-01-01}]\n      offences:")
        + "    expect: {deadline_rule: barnehus-recent, due_at: 2026-12-04 10:00}\n",
    )
    code, out, err = run("test", RULES, path)
    assert (code, err) == (0, ""), out
    assert out.splitlines()[-1] == "1 passed, 0 failed"


def test_a_failed_case_is_status_1_not_2(tmp_path: Path) -> None:
    path = cases(
        tmp_path,
        "cases:\n  - name: wrong\n    now: 2026-11-27 12:00\n"
        + REPORT
        + "    expect: {priority: low}\n",
    )
    code, out, err = run("test", RULES, path)
    assert (code, err) == (1, "")
    assert "FAIL wrong: priority normal, expected low" in out


BAD_CASES = {
    "a time that is no time": (
        "cases:\n  - name: x\n    now: tomorrow\n" + REPORT + "    expect: {priority: low}\n",
        "{path}:3: $.cases[0].now: `tomorrow` is not a date or time"
        " (write 2026-11-30T10:05:00+01:00)",
    ),
    "a due time that is no time": (
        "cases:\n  - name: x\n" + REPORT + "    expect:\n      due_at: soon\n",
        "{path}:10: $.cases[0].expect.due_at: `soon` is not a date or time"
        " (write 2026-11-30T10:05:00+01:00)",
    ),
    "a misspelt expectation": (
        "cases:\n  - name: x\n" + REPORT + "    expect:\n      priorty: low\n",
        "{path}:9: $.cases[0].expect: Object contains unknown field `priorty`",
    ),
    "a priority that does not exist": (
        "cases:\n  - name: x\n" + REPORT + "    expect:\n      priority: urgent\n",
        "{path}:10: $.cases[0].expect.priority: Invalid enum value 'urgent' (written `urgent`)",
    ),
    "a report that breaks the contract": (
        "cases:\n  - name: x\n"
        + REPORT.replace("[{code: strl-321}]", "[{code: strl-321}]\n      persons: [{role: boss}]")
        + "    expect: {priority: low}\n",
        "{path}:9: $.cases[0].report.persons[0].role: Invalid enum value 'boss' (written `boss`)",
    ),
    "a report time that is no time": (
        "cases:\n  - name: x\n" + REPORT.replace("T10:00:00+01:00", " 10h") + "    expect: {}\n",
        "{path}:6: $.cases[0].report.reported_at: `2026-11-27 10h` is not a date or time"
        " (write 2026-11-30T10:05:00+01:00)",
    ),
    "no report": (
        "cases:\n  - name: x\n    expect: {priority: low}\n",
        "{path}:2: a case needs `report` or `report_file`, one of them",
    ),
    "nothing to check": (
        "cases:\n  - name: x\n" + REPORT + "    expect: {}\n",
        "{path}:2: `expect` names nothing to check",
    ),
    "no cases": ("cases: []\n", "{path}: no test cases"),
    "a misspelt top key": ("case: []\n", "{path}:1: Object contains unknown field `case`"),
    "not YAML": ("cases: [\n", "{path}:2: expected the node content, but found '<stream end>'"),
    "empty": ("", "{path}: empty (a cases file holds `cases:`, a list of cases)"),
    "an alias": (
        "cases:\n  - &a {name: x, expect: {priority: low}}\n  - *a\n",
        "{path}:3: aliases are not allowed here",
    ),
}


@pytest.mark.parametrize(("text", "message"), BAD_CASES.values(), ids=BAD_CASES.keys())
def test_a_cases_file_that_cannot_be_used(tmp_path: Path, text: str, message: str) -> None:
    path = cases(tmp_path, text)
    assert refused("test", RULES, path) == "error: " + message.format(path=path)


def test_report_files_that_cannot_be_used(tmp_path: Path) -> None:
    path = cases(
        tmp_path, "cases:\n  - name: x\n    report_file: r.json\n    expect: {priority: low}\n"
    )
    report = tmp_path / "r.json"
    assert refused("test", RULES, path) == (
        f"error: {report}: No such file or directory (the report_file of {path}:2)"
    )
    report.write_text('{"source": "s",\n "external_id": }', "utf-8")
    assert refused("test", RULES, path) == (
        f"error: {report}:2: JSON is malformed: invalid character (byte 32)"
        f" (the report_file of {path}:2)"
    )
    assert refused("explain", RULES, report) == (
        f"error: {report}:2: JSON is malformed: invalid character (byte 32)"
    )
    report.write_text('{"source": "s", "external_id": "x"}', "utf-8")
    assert refused("explain", RULES, report) == (
        f"error: {report}: Object missing required field `reported_at`"
    )
    assert refused("explain", RULES, tmp_path / "none.json") == (
        f"error: {tmp_path / 'none.json'}: No such file or directory"
    )


def test_rules_and_unit_files_that_cannot_be_used(tmp_path: Path) -> None:
    nope = tmp_path / "nope.yaml"
    for command in (["check"], ["test"], ["explain"]):
        extra = [] if command == ["check"] else [nope]
        assert refused(*command, nope, *extra) == f"error: {nope}: No such file or directory"
    assert refused("check", RULES, "--units", nope) == f"error: {nope}: No such file or directory"
    assert refused("check", DATA / "rules-sexagesimal.yaml") == (
        f"error: {DATA / 'rules-sexagesimal.yaml'}:31: rule custody-adult-short: "
        "`hours: 1:30` is not a whole number; write `minutes: 90`"
    )


def test_replay_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert refused("replay", RULES).startswith(
        "error: fsi-rules replay: the following arguments are required: --since"
    )
    assert refused("replay", RULES, "--since", "last week") == (
        "error: fsi-rules replay: argument --since: `last week`: not a date or time"
        " (write 2026-11-30T10:05:00+01:00) (see fsi-rules replay --help)"
    )
    monkeypatch.setenv("FSI_DB_URL", "postgresql://postgres@127.0.0.1:1/none")
    line = refused("replay", RULES, "--since", "2026-11-01")
    assert line.startswith("error: replay: the database (FSI_DB_URL) cannot be read: ")
    # a date without an offset is Europe/Oslo, as in reports: midnight is 23:00 UTC in winter
    assert cli._moment("2026-11-01") == dt.datetime(2026, 10, 31, 23, tzinfo=dt.UTC)


def test_commands_and_help(tmp_path: Path) -> None:
    assert refused().startswith("error: fsi-rules: the following arguments are required")
    assert refused("lint", RULES).startswith("error: fsi-rules: argument command: invalid choice")
    assert refused("test", RULES).startswith("error: fsi-rules test: the following arguments")
    for args in (["--help"], ["check", "--help"], ["check", "--help", tmp_path / "nope.yaml"]):
        code, out, err = run(*args)
        assert (code, err) == (0, "")
        assert out.startswith("usage: fsi-rules")
        assert "ok:" not in out
    assert "Exit status:" in run("--help")[1]


def test_the_installed_tool_answers_in_one_line_without_a_traceback(tmp_path: Path) -> None:
    bad_now = cases(
        tmp_path, "cases:\n  - name: x\n    now: tomorrow\n" + REPORT + "    expect: {}\n"
    )
    expected = {
        ("test", RULES, DATA / "rules-tests-naive-now.yaml"): 0,
        ("check", DATA / "rules-sexagesimal.yaml"): 2,
        ("test", RULES, bad_now): 2,
        ("replay", RULES): 2,
        ("--help",): 0,
        ("check", "--help"): 0,
    }
    for args, status in expected.items():
        done = subprocess.run(  # noqa: S603 - our own entry point
            [str(TOOL), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=ENV,
        )
        assert done.returncode == status, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stdout + done.stderr
        if status == 2:
            assert done.stdout == ""
            assert len(done.stderr.splitlines()) == 1
        else:
            assert done.stderr == ""


BAD_ARGUMENTS: list[list[str | Path]] = [
    ["--bogus"],
    ["check", RULES, "--bogus"],
    ["check"],
    ["check", RULES, "--units"],
    ["check", RULES, "--strict=yes"],
    ["test", RULES],
    ["explain"],
    ["replay", RULES, "--since"],
    ["replay", RULES, "--since", "2026-13-01"],
    ["replay", RULES, "--since", "2026-11-01\nnext line"],
    ["lint\nx", RULES],
    ["check", RULES, "extra", "arguments"],
    ["-x"],
    ["--help=now"],
]


@pytest.mark.parametrize("args", BAD_ARGUMENTS, ids=[" ".join(map(str, a)) for a in BAD_ARGUMENTS])
def test_every_argument_error_is_one_line_and_status_2(args: list[str | Path]) -> None:
    line = refused(*args)
    assert line.startswith("error: fsi-rules")
    assert line.endswith("--help)")


def test_the_installed_tool_answers_argument_errors_in_one_line() -> None:
    for args in BAD_ARGUMENTS:
        done = subprocess.run(  # noqa: S603 - our own entry point
            [str(TOOL), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=ENV,
        )
        assert done.returncode == 2, (args, done.stderr)
        assert done.stdout == ""
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr


def test_a_file_name_with_a_line_break_stays_one_line(tmp_path: Path) -> None:
    odd = tmp_path / "two\nlines.yaml"
    assert refused("check", odd) == f"error: {tmp_path}/two\\nlines.yaml: No such file or directory"
