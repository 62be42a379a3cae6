"""Routing rules: the YAML format, loaded with line numbers and checked, then compiled.

Parse once, evaluate many: `load_ruleset` reads the rules file and the unit catalogue (`units`),
checks every key, type and reference (offence codes, districts, municipalities, sections,
units), parses each condition into its tree (`condition_tree`) and compiles that into a
closure over precomputed `Facts` (`conditions`, `engine`). Errors form a small hierarchy,
each naming the file, line and rule id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.caseevents import CaseEventKind
from schemas.decision import TRIAGE_UNIT, Priority
from schemas.reference import Reference
from services.common.rules import condition_tree, conditions, meeting
from services.common.rules.index import RuleIndex
from services.common.rules.reading import (
    DURATION_KEYS,
    Located,
    Reader,
    UnknownReferenceError,
    WrongTypeError,
    duration,
    parse_yaml,
    read_file,
    shown,
    suggestion,
    written,
    written_in,
)
from services.common.rules.units import Catalogue, load_catalogue

MOMENTS = ("report", "incident", "arrest")


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """A deadline: a duration (`after`) from a named moment, with its legal basis, the
    duration in words as the rule wrote it (`written`: "0 hours", "1 week"), and the case
    events that meet it (`met_by`, in the order written; never empty: `meeting`)."""

    after: dt.timedelta
    moment: str
    basis: str
    written: str
    met_by: tuple[CaseEventKind, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule: its condition (`when`, the tree), its test (compiled from it), and
    what it decides when it matches."""

    id: str
    line: int
    when: condition_tree.Condition
    test: Callable[[Any], bool]
    section: str | None
    unit: str | None
    priority: Priority | None
    deadline: DeadlineRule | None
    source: Located

    @property
    def names_unit(self) -> bool:
        return self.section is not None or self.unit is not None


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Everything a decision needs, compiled; `version` is a hash of the files' content."""

    rules: tuple[Rule, ...]
    amqp_priorities: Mapping[Priority, int]
    catalogue: Catalogue
    reference: Reference
    version: str
    file: str
    index: RuleIndex


_RULE_KEYS = {"id", "description", "when", "then"}
_THEN_KEYS = {"section", "unit", "priority", "deadline"}


def _deadline(read: Reader, value: Any, line: int) -> DeadlineRule:
    spec = read.mapping(value, line, "deadline", {*DURATION_KEYS, "from", "basis", "met_by"})
    moment = spec.get("from", "report")
    if moment not in MOMENTS:
        raise read.fail(
            WrongTypeError,
            f"{shown(spec, 'from')}: a deadline runs from one of {', '.join(MOMENTS)}"
            + suggestion(str(moment), MOMENTS),
            spec.key_lines.get("from", spec.line),
        )
    basis = spec.get("basis")
    if not isinstance(basis, str) or not basis.strip():
        raise read.fail(
            WrongTypeError, "a deadline needs its `basis` (legal basis as text)", spec.line
        )
    span = duration(read, spec)
    met_by = meeting.met_by(read, spec, line)
    return DeadlineRule(span.delta, str(moment), basis.strip(), str(span), met_by)


def _rule(
    read: Reader, spec: Located, catalogue: Catalogue, reference: Reference, rule_id: str
) -> Rule:
    then = read.mapping(spec.get("then"), spec.line, "then", _THEN_KEYS)
    section, unit = then.get("section"), then.get("unit")
    if section is not None and unit is not None:
        raise read.fail(WrongTypeError, "a rule names a `section` or a `unit`, not both", then.line)
    names = catalogue.section_names
    if section is not None and section not in names:
        hint = suggestion(str(section), names, {v: k for k, v in names.items()})
        raise read.fail(
            UnknownReferenceError,
            f"unknown section `{written_in(then, 'section')}`{hint}",
            then.key_lines["section"],
        )
    if unit is not None and unit != TRIAGE_UNIT and unit not in catalogue.units:
        hint = suggestion(str(unit), [*catalogue.units, TRIAGE_UNIT])
        raise read.fail(
            UnknownReferenceError,
            f"unknown unit `{written_in(then, 'unit')}`{hint}",
            then.key_lines["unit"],
        )
    priority = then.get("priority")
    levels = [p.value for p in Priority]
    if priority is not None and priority not in levels:
        raise read.fail(
            WrongTypeError,
            f"unknown priority `{written_in(then, 'priority')}`{suggestion(str(priority), levels)}",
            then.key_lines["priority"],
        )
    deadline = (
        _deadline(read, then["deadline"], then.key_lines["deadline"])
        if "deadline" in then
        else None
    )
    if not (section or unit or priority or deadline):
        raise read.fail(WrongTypeError, "`then` decides nothing", then.line)
    when = condition_tree.parse(
        read, spec.get("when"), spec.key_lines.get("when", spec.line), reference
    )
    return Rule(
        id=rule_id,
        line=spec.line,
        when=when,
        test=conditions.predicate(when),
        section=section,
        unit=unit,
        priority=Priority(priority) if priority else None,
        deadline=deadline,
        source=spec,
    )


def load_ruleset(rules_path: Path, units_path: Path, reference: Reference) -> RuleSet:
    """Read, check and compile the rules file and the unit catalogue."""
    rules_text = read_file(rules_path)
    units_text = read_file(units_path)
    catalogue = load_catalogue(units_text, str(units_path), reference)
    file = str(rules_path)
    read = Reader(file)
    doc = read.mapping(
        parse_yaml(rules_text, file), 1, "the rules file", {"version", "priorities", "rules"}
    )
    version = doc.get("version")
    if version != 1 or isinstance(version, bool):
        given = shown(doc, "version") if "version" in doc else "no `version`"
        raise read.fail(
            WrongTypeError,
            f"{given}: the only rules format is `version: 1`, a plain number",
            doc.key_lines.get("version", doc.line),
        )
    levels = read.mapping(
        doc.get("priorities"), doc.line, "priorities", {p.value for p in Priority}
    )
    amqp = {}
    for level in Priority:
        value = levels.get(level.value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 9:
            given = (
                shown(levels, level.value)
                if level.value in levels
                else f"`priorities` has no `{level.value}`"
            )
            raise read.fail(
                WrongTypeError,
                f"{given}: each priority needs an AMQP priority 0-9",
                levels.key_lines.get(level.value, levels.line),
            )
        amqp[level] = value
    if (
        not amqp[Priority.CRITICAL]
        >= amqp[Priority.HIGH]
        >= amqp[Priority.NORMAL]
        >= amqp[Priority.LOW]
    ):
        raise read.fail(
            WrongTypeError,
            "AMQP priorities must keep critical >= high >= normal >= low",
            levels.line,
        )
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise read.fail(WrongTypeError, "`rules` must be a non-empty list", doc.line)
    compiled: list[Rule] = []
    seen: set[str] = set()
    for item, at in zip(
        raw_rules, getattr(raw_rules, "item_lines", [doc.line] * len(raw_rules)), strict=True
    ):
        spec = read.mapping(item, at, "a rule", _RULE_KEYS)
        # A rule's id is the text written (`id: no` is the id "no", `id: 7` the id "7").
        rule_id = spec.get("id")
        if isinstance(rule_id, int) and not isinstance(rule_id, bool):
            rule_id = str(rule_id)
        if not isinstance(rule_id, str) or not rule_id.strip():
            raise read.fail(
                WrongTypeError,
                f"every rule needs an `id` (a text), not `{written(rule_id)}`",
                spec.key_lines.get("id", spec.line),
            )
        if rule_id in seen:
            raise Reader(file, rule_id).fail(
                WrongTypeError, f"rule id {rule_id!r} is used twice", spec.line
            )
        seen.add(rule_id)
        compiled.append(_rule(Reader(file, rule_id), spec, catalogue, reference, rule_id))
    digest = hashlib.sha256(rules_text.encode() + b"\0" + units_text.encode()).hexdigest()
    rules = tuple(compiled)
    return RuleSet(
        rules=rules,
        amqp_priorities=amqp,
        catalogue=catalogue,
        reference=reference,
        version=f"sha256:{digest[:16]}",
        file=file,
        index=RuleIndex(rules),
    )
