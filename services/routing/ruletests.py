"""Rule tests: the cases file of `fsi-rules test`, read strictly, and its cases run.

A cases file is YAML (read by `services.common.yamltext`: unquoted times, codes and numbers
stay text as written):

```yaml
cases:
  - name: arrested, age unknown - custody the day after
    now: 2026-11-30 12:00              # a naive time is Europe/Oslo, as in reports
    report: {...}                      # a canonical report, or `report_file: x.json`
    expect:                            # at least one of:
      unit: oslo.felles-etterforskning
      priority: critical
      deadline_rule: custody-age-unknown   # null: no deadline
      due_at: 2026-12-01T09:30:00+01:00    # null: no deadline
      rules: [custody-age-unknown]         # these (at least) matched
```

Every time in the file (`now`, `due_at` and the report's own times) is read alike: ISO 8601
(`2026-11-30 12:00`, `2026-11-30T12:00:00+01:00`, `2026-11-30`: midnight), without an offset
Europe/Oslo, and within the years a report's times can have (1900-2100 in UTC). A report
file is read as the intake reads a body (`services.common.jsontext`).

Anything that makes a file unusable is an `InputError`: one line naming the file, the line
where there is one, and the problem, with the value as written.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import TextIO

import msgspec
from msgspec import UNSET, UnsetType

from schemas.decision import Decision, Priority
from schemas.report import EARLIEST_YEAR, LATEST_YEAR, Report, as_utc
from services.common import jsontext, yamltext
from services.common.rules.engine import decide
from services.common.rules.ruleset import RuleSet
from services.common.standardise import Options, standardise
from services.common.yamltext import Located

MAX_REPORT_BYTES = 1_048_576  # as the intake's default body limit
_WRITE = "write 2026-11-30T10:05:00+01:00"


class InputError(ValueError):
    """A file that cannot be used; the message names the file, the line and the problem."""


class Expect(msgspec.Struct, forbid_unknown_fields=True):
    """What a case's decision must show; each key checked only when given."""

    unit: str | UnsetType = UNSET
    priority: Priority | UnsetType = UNSET
    deadline_rule: str | UnsetType | None = UNSET
    due_at: dt.datetime | UnsetType | None = UNSET  # bounded by `moment`
    rules: list[str] | UnsetType = UNSET


class Case(msgspec.Struct, forbid_unknown_fields=True):
    """One test case: a canonical report (inline or a file) and what must come out."""

    name: str
    expect: Expect
    report: Report | None = None
    report_file: str | None = None
    now: dt.datetime | None = None  # bounded by `moment`


class CasesFile(msgspec.Struct, forbid_unknown_fields=True):
    cases: list[Case]


def read_report(path: Path) -> Report:
    """A canonical report from a JSON file, read as the intake reads a body (a UTF-8 byte
    order mark ignored, a key given twice refused), or `InputError`."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    if len(data) > MAX_REPORT_BYTES:
        raise InputError(f"{path}: larger than {MAX_REPORT_BYTES} bytes")
    try:
        return jsontext.decode(data, Report)
    except jsontext.JsonTextError as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise InputError(f"{where}: {exc.problem}") from None


def read_cases(path: Path) -> list[tuple[Case, int]]:
    """The cases of a cases file, each with its line, or `InputError`."""
    file = str(path)
    try:
        document = yamltext.load_file(path)
        if document is None:
            raise InputError(f"{path}: empty (a cases file holds `cases:`, a list of cases)")
        if isinstance(document, list):
            cases, items = yamltext.convert(document, list[Case], file), document
        else:
            cases = yamltext.convert(document, CasesFile, file).cases
            items = document["cases"]
    except OSError as exc:
        raise InputError(f"{path}: {exc.strerror or exc}") from None
    except yamltext.YamlTextError as exc:
        raise InputError(str(exc)) from None
    lines: list[int] = getattr(items, "item_lines", [0] * len(cases))
    if not cases:
        raise InputError(f"{path}: no test cases")
    for case, line, item in zip(cases, lines, items, strict=True):
        for name, value, where in (
            ("now", case.now, item),
            ("due_at", case.expect.due_at, item.get("expect")),
        ):
            if isinstance(value, dt.datetime) and isinstance(where, Located):
                at = where.key_lines.get(name, line)
                moment(value, f"{path}:{at}: `{name}: {yamltext.written_in(where, name)}`")
        if (case.report is None) == (case.report_file is None):
            raise InputError(f"{path}:{line}: a case needs `report` or `report_file`, one of them")
        if all(getattr(case.expect, f) is UNSET for f in Expect.__struct_fields__):
            raise InputError(f"{path}:{line}: `expect` names nothing to check")
    return list(zip(cases, lines, strict=True))


def moment(value: str | dt.datetime, where: str) -> dt.datetime:
    """A time (text as `yamltext.time_of` reads it, or read already) as a UTC instant; without
    an offset it is Europe/Oslo, as in reports. `InputError` names `where` when it is no
    time, or lies outside the years a report's times can have (`EARLIEST_YEAR` to
    `LATEST_YEAR` in UTC, as `schemas.report` checks them)."""
    if isinstance(value, str):
        try:
            value = yamltext.time_of(value)
        except ValueError:
            raise InputError(f"{where}: not a date or time ({_WRITE})") from None
    try:
        instant = as_utc(value)
    except OverflowError:  # the year 1 in Oslo is before the year 1 in UTC, say
        instant = None
    if instant is None or not EARLIEST_YEAR <= instant.year <= LATEST_YEAR:
        raise InputError(
            f"{where}: outside the years {EARLIEST_YEAR}-{LATEST_YEAR} (UTC) a report's times"
            " can have"
        )
    return instant


def check(decision: Decision, expect: Expect) -> list[str]:
    """What differs from the expectation, in words; empty when the decision is right."""
    wrong = []
    if expect.unit is not UNSET and decision.unit != expect.unit:
        wrong.append(f"unit {decision.unit}, expected {expect.unit}")
    if expect.priority is not UNSET and decision.priority != expect.priority:
        wrong.append(f"priority {decision.priority.value}, expected {expect.priority.value}")
    deadline = decision.deadline
    if expect.deadline_rule is not UNSET:
        got = deadline.rule_id if deadline else None
        if got != expect.deadline_rule:
            wrong.append(f"deadline from {got}, expected {expect.deadline_rule}")
    if expect.due_at is not UNSET:
        due = deadline.due_at if deadline else None
        want = moment(expect.due_at, "due_at") if expect.due_at else None
        if due != want:
            shown = due.isoformat() if due else None
            wrong.append(f"due {shown}, expected {want.isoformat() if want else None}")
    if expect.rules is not UNSET and not set(expect.rules) <= set(decision.matched_rules):
        wrong.append(f"matched {decision.matched_rules}, expected to include {expect.rules}")
    return wrong


def standard(report: Report, ruleset: RuleSet, now: dt.datetime) -> Report:
    """The report as the intake would pass it on (test numbers accepted)."""
    return standardise(report, ruleset.reference, now, Options(accept_synthetic_ids=True))


def run(ruleset: RuleSet, path: Path, out: TextIO) -> int:
    """Run the cases of a file (all read and checked first); the number that failed."""
    cases = read_cases(path)
    reports = {}
    for case, line in cases:
        if case.report_file is not None:
            try:
                reports[line] = read_report(path.parent / case.report_file)
            except InputError as exc:
                raise InputError(f"{exc} (the report_file of {path}:{line})") from None
    failed = 0
    for case, line in cases:
        report = case.report if case.report is not None else reports[line]
        now = moment(case.now, "now") if case.now else dt.datetime.now(dt.UTC)
        decision = decide(standard(report, ruleset, now), uuid.uuid4(), ruleset, now)
        wrong = check(decision, case.expect)
        failed += bool(wrong)
        verdict = f"FAIL {case.name}: {'; '.join(wrong)}" if wrong else f"ok   {case.name}"
        print(verdict, file=out)
    print(f"{len(cases) - failed} passed, {failed} failed", file=out)
    return failed
