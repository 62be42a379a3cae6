"""Every time `fsi-rules` reads (a case's `now` and `due_at`, a report's own times, `replay
--since`) is read one way and bounded: ISO 8601, naive is Europe/Oslo (the contract's zone),
within the years a report's times can have (1900-2100 in UTC, `schemas.report`). Anything
else is one line on standard error and exit status 2, never a traceback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from schemas.report import Report
from services.routing.cli import main

ROOT = Path(__file__).parents[3]
RULES = ROOT / "deploy" / "routing" / "rules.yaml"
TOOL = Path(sys.executable).parent / "fsi-rules"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
REPORT = """    report:
      source: rules-test
      external_id: case
      reported_at: REPORTED
      incident: {occurred_from: 2026-11-26T22:00:00+01:00, municipality: 0301, description: d}
      offences: [{code: strl-292}]
"""


def run(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def case(
    tmp_path: Path, now: str, reported: str = "2026-11-27T10:00:00+01:00", due: str = ""
) -> Path:
    expect = f"{{due_at: {due}}}" if due else "{priority: critical}"
    path = tmp_path / "cases.yaml"
    text = f"cases:\n  - name: x\n    now: {now}\n" + REPORT.replace("REPORTED", reported)
    path.write_text(text + f"    expect: {expect}\n", "utf-8")
    return path


OUTSIDE = [
    # the new user's three
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    # the edges: a report's times are refused there too (checked below)
    "1899-12-31T23:59:59Z",
    "1900-01-01T00:30:00",  # Oslo (CET since 1895): 1899-12-31 23:30 UTC
    "2101-01-01T00:00:00Z",
    "2100-12-31T23:30:00-01:00",
]


@pytest.mark.parametrize("now", OUTSIDE)
def test_a_now_outside_the_years_of_a_report_is_one_line(tmp_path: Path, now: str) -> None:
    path = case(tmp_path, now)
    code, out, err = run("test", RULES, path)
    assert (code, out) == (2, "")
    assert err == (
        f"error: {path}:3: `now: {now}`: outside the years 1900-2100 (UTC) a report's times"
        " can have\n"
    )
    # the contract refuses the same time in a report: one range for every time
    body = json.loads((ROOT / "schemas/examples/report.bicycle-theft.json").read_text("utf-8"))
    with pytest.raises(msgspec.ValidationError, match="must lie between 1900 and 2100"):
        msgspec.json.decode(json.dumps({**body, "reported_at": now}), type=Report)


def test_a_due_time_outside_the_years_is_one_line(tmp_path: Path) -> None:
    path = case(tmp_path, "2026-11-27 12:00", due="0001-01-01T00:00:00")
    assert run("test", RULES, path)[2] == (
        f"error: {path}:10: `due_at: 0001-01-01T00:00:00`: outside the years 1900-2100 (UTC)"
        " a report's times can have\n"
    )


@pytest.mark.parametrize("now", ["1900-01-01T00:00:00Z", "2100-12-31T23:59:59Z"])
def test_the_first_and_last_instants_are_inside(tmp_path: Path, now: str) -> None:
    code, _, err = run("test", RULES, case(tmp_path, now))
    assert (code, err) in {(0, ""), (1, "")}


@pytest.mark.parametrize(
    "since",
    ["0001-01-01", "9999-12-31T23:59:59-01:00", "1899-12-31", "2101-01-01T00:00:00Z"],
)
def test_replay_since_outside_the_years_is_one_line(since: str) -> None:
    code, out, err = run("replay", RULES, "--since", since)
    assert (code, out) == (2, "")
    assert err == (
        f"error: fsi-rules replay: argument --since: `{since}`: outside the years 1900-2100"
        " (UTC) a report's times can have (see fsi-rules replay --help)\n"
    )


@pytest.mark.parametrize(
    "reported",
    [
        "2026-11-27 10:00",  # the new user's two, as the README says: read as a time
        "2026-11-27T10:00",
        "2026-11-27 10:00:00",
        "2026-11-27T10:00:00+01:00",
        "2026-11-27T09:00:00Z",
        "'2026-11-27 10:00'",
    ],
)
def test_report_times_are_read_as_now_is(tmp_path: Path, reported: str) -> None:
    # The rape rule's 130 days run from the report: 10:00 Oslo (CET) is 09:00 UTC, and
    # 130 days after 27 Nov 2026 is 6 Apr 2027 (3 + 31 + 31 + 28 + 31 + 6).
    path = case(tmp_path, "2026-11-27 12:00", reported, due="2027-04-06T09:00:00Z")
    code, out, err = run("test", RULES, path)
    assert (code, err) == (0, ""), out
    # and the same text as `now` is the same instant
    path = case(tmp_path, reported, reported, due="2027-04-06T09:00:00Z")
    assert run("test", RULES, path)[:2] == (0, "ok   x\n1 passed, 0 failed\n")


@pytest.mark.parametrize(
    ("reported", "problem"),
    [
        (
            "2026-11-27 10h",
            "`2026-11-27 10h` is not a date or time (write 2026-11-30T10:05:00+01:00)",
        ),
        ("2101-01-01 10:00", "`reported_at` must lie between 1900 and 2100"),
    ],
)
def test_a_report_time_that_cannot_be_used_is_one_line(
    tmp_path: Path, reported: str, problem: str
) -> None:
    path = case(tmp_path, "2026-11-27 12:00", reported)
    code, out, err = run("test", RULES, path)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {path}:")
    assert err.rstrip().endswith(problem)
    assert len(err.splitlines()) == 1


def test_the_installed_tool_answers_every_bad_time_in_one_line(tmp_path: Path) -> None:
    folders = [tmp_path / str(i) for i in range(3)]
    for folder in folders:
        folder.mkdir()
    commands = [
        ["test", str(RULES), str(case(folder, now))]
        for folder, now in zip(folders, OUTSIDE, strict=False)
    ] + [["replay", str(RULES), "--since", s] for s in ("0001-01-01", "9999-12-31T23:59:59-01:00")]
    for command in commands:
        done = subprocess.run(  # noqa: S603 - our own entry point
            [str(TOOL), *command],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=ENV,
        )
        assert done.returncode == 2, (command, done.stderr)
        assert done.stdout == ""
        assert len(done.stderr.splitlines()) == 1
        assert "Traceback" not in done.stderr
