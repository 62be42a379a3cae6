"""`fsi-rules`: check, test and explain routing rules before they go live.

    fsi-rules check RULES [--units UNITS] [--strict]
    fsi-rules test RULES CASES [--units UNITS]
    fsi-rules explain RULES REPORT.json [--units UNITS]
    fsi-rules replay RULES --since DATE [--units UNITS]      (database: FSI_DB_URL)

Exit status 0 when all is well, 1 when a check or a test case fails, 2 for unusable input.
`check` fails on warnings (a unit rule that never decides, a unit nothing reaches); its
notes (unit rules that overlap with different units) fail it only with --strict.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import asyncpg
import msgspec
import yaml

from schemas import reference
from schemas.decision import Decision
from schemas.report import Report
from services.common import settings as fsi_settings
from services.intake.standardise import Options, standardise
from services.routing import conditions
from services.routing.engine import decide, facts_of
from services.routing.lint import lint
from services.routing.reading import Reader, RulesError
from services.routing.replay import replay
from services.routing.rules import RuleSet, load_ruleset
from services.routing.settings import DEPLOY

NOW_DEFAULT = "the moment the command runs"


def _standard(body: Any, ref: reference.Reference, now: dt.datetime) -> Report:
    report = msgspec.convert(body, Report)
    return standardise(report, ref, now, Options(accept_synthetic_ids=True))


class Case(msgspec.Struct, forbid_unknown_fields=True):
    """One test case: a canonical report (inline or a file) and what must come out."""

    name: str
    expect: dict[str, Any]
    report: dict[str, Any] | None = None
    report_file: str | None = None
    now: dt.datetime | None = None


def _check_expectation(decision: Decision, expect: dict[str, Any]) -> list[str]:
    wrong = []
    if "unit" in expect and decision.unit != expect["unit"]:
        wrong.append(f"unit {decision.unit}, expected {expect['unit']}")
    if "priority" in expect and decision.priority.value != expect["priority"]:
        wrong.append(f"priority {decision.priority.value}, expected {expect['priority']}")
    if "deadline_rule" in expect:
        got = decision.deadline.rule_id if decision.deadline else None
        if got != expect["deadline_rule"]:
            wrong.append(f"deadline from {got}, expected {expect['deadline_rule']}")
    if "rules" in expect and not set(expect["rules"]) <= set(decision.matched_rules):
        wrong.append(f"matched {decision.matched_rules}, expected to include {expect['rules']}")
    return wrong


def run_tests(ruleset: RuleSet, cases_path: Path, out: TextIO) -> int:
    """Run the cases; the number that failed."""
    raw = yaml.safe_load(cases_path.read_text("utf-8"))
    cases = msgspec.convert(raw.get("cases", []) if isinstance(raw, dict) else raw, list[Case])
    failed = 0
    for case in cases:
        body = case.report
        if case.report_file:
            body = msgspec.json.decode((cases_path.parent / case.report_file).read_bytes())
        now = case.now or dt.datetime.now(dt.UTC)
        decision = decide(_standard(body, ruleset.reference, now), uuid.uuid4(), ruleset, now)
        wrong = _check_expectation(decision, case.expect)
        failed += bool(wrong)
        print(
            f"{'FAIL' if wrong else 'ok  '} {case.name}"
            + (f": {'; '.join(wrong)}" if wrong else ""),
            file=out,
        )
    print(f"{len(cases) - failed} passed, {failed} failed", file=out)
    return failed


def explain(ruleset: RuleSet, report_path: Path, out: TextIO) -> None:
    """Which rules matched, which did not and why, and the decision."""
    now = dt.datetime.now(dt.UTC)
    report = _standard(msgspec.json.decode(report_path.read_bytes()), ruleset.reference, now)
    facts = facts_of(report, ruleset.reference, now)
    for rule in ruleset.rules:
        read = Reader(ruleset.file, rule.id)
        failing = conditions.explain(read, rule.source["when"], rule.line, ruleset.reference, facts)
        if failing is None:
            print(f"match     {rule.id} (line {rule.line})", file=out)
        else:
            key, line = failing
            print(f"no match  {rule.id} (line {rule.line}): `{key}` (line {line}) fails", file=out)
    decision = decide(report, uuid.uuid4(), ruleset, now)
    print(msgspec.json.format(msgspec.json.encode(decision)).decode(), file=out)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(
        prog="fsi-rules", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["check", "test", "explain", "replay"])
    parser.add_argument("rules", type=Path)
    parser.add_argument("input", type=Path, nargs="?", help="CASES (test) or REPORT.json (explain)")
    parser.add_argument("--units", type=Path, default=DEPLOY / "units.yaml")
    parser.add_argument("--since", type=dt.datetime.fromisoformat, help="replay: from (ISO date)")
    parser.add_argument("--strict", action="store_true", help="check: notes fail the check too")
    args = parser.parse_args(argv)
    try:
        ruleset = load_ruleset(args.rules, args.units, reference.load())
    except (RulesError, OSError) as exc:
        print(f"error: {exc}", file=out)
        return 2 if isinstance(exc, OSError) else 1
    if args.command == "check":
        findings = lint(ruleset)
        for finding in findings:
            print(f"{finding.severity}: {finding.text}", file=out)
        units = len(ruleset.catalogue.units)
        print(f"ok: {len(ruleset.rules)} rules, {units} units, version {ruleset.version}", file=out)
        return 1 if any(f.severity == "warning" or args.strict for f in findings) else 0
    if args.command == "replay":
        return _replay(ruleset, args.since, out)
    if args.input is None:
        parser.error(f"{args.command} needs a file")
    try:
        if args.command == "test":
            return 1 if run_tests(ruleset, args.input, out) else 0
        explain(ruleset, args.input, out)
        return 0
    except (OSError, yaml.YAMLError, msgspec.ValidationError, msgspec.DecodeError) as exc:
        print(f"error: {args.input}: {exc}", file=out)
        return 2


def _replay(ruleset: RuleSet, since: dt.datetime | None, out: TextIO) -> int:
    if since is None:
        print("error: replay needs --since DATE", file=out)
        return 2
    since = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
    try:
        settings = fsi_settings.load(fsi_settings.MigrateSettings)
        changes = asyncio.run(replay(settings.db.url, ruleset, since))
    except (fsi_settings.SettingsError, OSError, asyncpg.PostgresError) as exc:
        print(f"error: {exc}", file=out)
        return 2
    print(changes.render(), file=out)
    return 0


def entry() -> None:
    sys.exit(main())
