"""`fsi-rules`: check, test and explain routing rules before they go live, and replay them.

    fsi-rules check RULES [--units UNITS] [--strict]
    fsi-rules test RULES CASES [--units UNITS]
    fsi-rules explain RULES REPORT.json [--units UNITS]
    fsi-rules replay RULES --since DATE [--units UNITS]      (database: FSI_DB_URL)

Exit status:
    0  all is well
    1  `check` found a warning (with --strict, also a note), or a `test` case failed
    2  unusable input: a missing or unreadable file; a rules, units, cases or report file
       that its format refuses; a bad argument or date; no database to replay from. One
       line on standard error names the file, the line where there is one, and the problem.

`check` fails on warnings (a rule that matches no report, a unit rule that never decides,
a unit nothing reaches, a deadline lost when a report lacks a fact, a deadline from an
arrest in a report with no arrest); its notes (unit rules that overlap with different
units) fail it only with --strict. Its last line starts with `ok` or `failed`, as the exit
status says. A time without offset (a case's `now`, `--since`) is Europe/Oslo, as in
reports; every time lies within the years a report's times can have (1900-2100).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import asyncpg
import msgspec

from schemas import reference
from services.common import settings as fsi_settings
from services.common.rules import explanation
from services.common.rules.engine import decide, facts_of
from services.common.rules.reading import RulesError
from services.common.rules.ruleset import RuleSet, load_ruleset
from services.common.settings import DEPLOY
from services.routing import ruletests
from services.routing.lint import lint
from services.routing.replay import replay
from services.routing.ruletests import InputError

OK, FAILED, UNUSABLE = 0, 1, 2


class _Exit(Exception):
    """argparse is done (help printed, or a usage error reported): leave with `code`."""

    def __init__(self, code: int) -> None:
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse writing to the given streams, a usage error as one line, never exiting."""

    out: TextIO = sys.stdout
    err: TextIO = sys.stderr

    def print_help(self, file: Any = None) -> None:
        super().print_help(file or self.out)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self.err.write(message)
        raise _Exit(status)

    def error(self, message: str) -> NoReturn:
        print(one_line(f"error: {self.prog}: {message} (see {self.prog} --help)"), file=self.err)
        raise _Exit(UNUSABLE)


# Line breaks and other control characters, as Python's str.splitlines() counts them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with every control character escaped (`\\n`), so it stays one line whatever a
    file name or an argument holds."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _moment(text: str) -> dt.datetime:
    """A `--since` time, read as a rule test's `now` is (`ruletests.moment`)."""
    try:
        return ruletests.moment(text, f"`{text}`")
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser(out: TextIO, err: TextIO) -> _Parser:
    class Parser(_Parser):  # the subcommands' parsers write to the same streams
        pass

    Parser.out, Parser.err = out, err
    parser = Parser(
        prog="fsi-rules", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, text: str, run: Any) -> Parser:
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("rules", type=Path, help="the rules file (YAML)")
        sub.add_argument("--units", type=Path, default=DEPLOY / "units.yaml", help="unit catalogue")
        sub.set_defaults(run=run)
        return sub

    check = command("check", "Load the rules, report errors, then lint warnings.", _check)
    check.add_argument("--strict", action="store_true", help="notes fail the check too")
    test = command("test", "Run the cases of a rule-test file.", _test)
    test.add_argument("cases", type=Path, help="the cases file (YAML)")
    explain = command("explain", "Say which rules match a report, and the decision.", _explain)
    explain.add_argument("report", type=Path, help="a canonical report (JSON)")
    older = command("replay", "Re-decide stored reports; show what would change.", _replay)
    older.add_argument(
        "--since", type=_moment, required=True, help="from this date (naive: Europe/Oslo)"
    )
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO | None = None
) -> int:
    """Run one command; the exit status (see the module docstring)."""
    err = err or sys.stderr
    try:
        args = _parser(out, err).parse_args(argv)
        code: int = args.run(args, out)
    except _Exit as done:
        return done.code
    except InputError as exc:
        print(one_line(f"error: {exc}"), file=err)
        return UNUSABLE
    return code


def _load(args: argparse.Namespace) -> RuleSet:
    try:
        return load_ruleset(args.rules, args.units, reference.load())
    except RulesError as exc:
        raise InputError(str(exc)) from None
    except OSError as exc:
        raise InputError(f"{exc.filename}: {exc.strerror or exc}") from None


def _check(args: argparse.Namespace, out: TextIO) -> int:
    ruleset = _load(args)
    findings = lint(ruleset)
    for finding in findings:
        print(f"{finding.severity}: {finding.text}", file=out)
    counts = {s: sum(f.severity == s for f in findings) for s in ("warning", "note")}
    failing = [
        f"{n} {severity}{'' if n == 1 else 's'}"
        for severity, n in counts.items()
        if n and (severity == "warning" or args.strict)
    ]
    units = len(ruleset.catalogue.units)
    rules = len(ruleset.rules)
    summary = f"{rules} rule{'' if rules == 1 else 's'}, {units} units, version {ruleset.version}"
    if failing:  # the last line says what the exit status says
        strict = " (--strict)" if args.strict and counts["note"] else ""
        print(f"failed: {' and '.join(failing)}{strict}; {summary}", file=out)
        return FAILED
    print(f"ok: {summary}", file=out)
    return OK


def _test(args: argparse.Namespace, out: TextIO) -> int:
    ruleset = _load(args)
    return FAILED if ruletests.run(ruleset, args.cases, out) else OK


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    """Which rules matched, which did not and why, and the decision."""
    ruleset = _load(args)
    now = dt.datetime.now(dt.UTC)
    report = ruletests.standard(ruletests.read_report(args.report), ruleset, now)
    for check in explanation.check_rules(ruleset, facts_of(report, ruleset.reference, now)):
        print(explanation.describe(check), file=out)
    decision = decide(report, uuid.uuid4(), ruleset, now)
    print(msgspec.json.format(msgspec.json.encode(decision)).decode(), file=out)
    return OK


def _replay(args: argparse.Namespace, out: TextIO) -> int:
    ruleset = _load(args)
    try:
        settings = fsi_settings.load(fsi_settings.MigrateSettings)
        changes = asyncio.run(replay(settings.db.url, ruleset, args.since))
    except fsi_settings.SettingsError as exc:
        raise InputError(str(exc)) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise InputError(f"replay: the database (FSI_DB_URL) cannot be read: {exc}") from None
    print(changes.render(), file=out)
    return OK


def entry() -> None:
    sys.exit(main())
