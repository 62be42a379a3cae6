"""Routing rules: the YAML format, loaded with line numbers and checked, then compiled.

Parse once, evaluate many: `load_ruleset` reads the rules file and the unit catalogue,
checks every key, type and reference (offence codes, districts, municipalities, sections,
units), and compiles each condition into a closure over precomputed `Facts`
(see `engine`). Errors form a small hierarchy, each naming the file, line and rule id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.decision import TRIAGE_UNIT, Priority
from schemas.reference import Reference
from services.routing import conditions
from services.routing.reading import (
    DURATION_KEYS,
    Located,
    Reader,
    UnknownReferenceError,
    WrongTypeError,
    duration,
    parse_yaml,
    read_file,
    written,
)

MOMENTS = ("report", "incident", "arrest")


# --- the unit catalogue ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class District:
    """A police district's slug, sections and default section."""

    name: str
    slug: str
    sections: tuple[str, ...]
    default: str

    def unit(self, section: str) -> str:
        return f"{self.slug}.{section}"


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Districts and their units."""

    section_names: dict[str, str]
    districts: dict[str, District]

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(d.unit(s) for d in self.districts.values() for s in d.sections)


def load_catalogue(text: str, file: str, reference: Reference) -> Catalogue:
    """The unit catalogue from its YAML text."""
    read = Reader(file)
    doc = read.mapping(parse_yaml(text, file), 1, "the unit catalogue", {"sections", "districts"})
    sections = read.mapping(doc.get("sections"), doc.line, "sections")
    names = {}
    for key, title in sections.items():
        names[key] = read.text(title, sections.key_lines[key], f"the name of section {key}")
    districts: dict[str, District] = {}
    raw = read.mapping(doc.get("districts"), doc.line, "districts")
    known = {m.police_district for m in reference.municipalities.values()}
    for name, spec in raw.items():
        line = raw.key_lines[name]
        if name not in known:
            raise read.fail(UnknownReferenceError, f"unknown police district `{name}`", line)
        spec = read.mapping(spec, line, f"district {name}", {"slug", "default", "sections"})
        slug = read.text(spec.get("slug"), line, f"the `slug` of district {name}")
        default = read.text(spec.get("default"), line, f"the `default` section of district {name}")
        own = tuple(read.strings(spec.get("sections", list(names)), line, "sections"))
        for section in (*own, default):
            if section not in names:
                raise read.fail(UnknownReferenceError, f"unknown section `{section}`", line)
        districts[name] = District(name, slug, own, default)
    missing = known - set(districts)
    if missing:
        raise read.fail(
            UnknownReferenceError,
            f"districts without units: {', '.join(sorted(missing))}",
            doc.line,
        )
    return Catalogue(names, districts)


# --- the rules ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """A deadline: a duration after a named moment, with its legal basis."""

    after: dt.timedelta
    moment: str
    basis: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule: its test, and what it decides when it matches."""

    id: str
    line: int
    test: Callable[[Any], bool]
    section: str | None
    unit: str | None
    priority: Priority | None
    deadline: DeadlineRule | None
    source: Located

    @property
    def names_unit(self) -> bool:
        return self.section is not None or self.unit is not None


class RuleIndex:
    """Which rules can match a report at all, from necessary conditions of each rule.

    Per dimension (offence code, district, municipality, flag, source, quality issues) a
    rule is either unconstrained or needs one of some values. A report's candidates are the
    rules allowed in every dimension, as bit masks, in rule order; only they are tested, so
    a rule set ten times larger, mostly per district or per offence, costs little more.
    """

    def __init__(self, rules: tuple[Rule, ...], reference: Reference) -> None:
        self.rules = rules
        everything = (1 << len(rules)) - 1
        self.free = dict.fromkeys(conditions.DIMENSIONS, everything)
        self.masks: dict[str, dict[Any, int]] = {d: {} for d in conditions.DIMENSIONS}
        for bit, rule in enumerate(rules):
            for dimension, values in conditions.requirements(
                rule.source["when"], reference
            ).items():
                self.free[dimension] &= ~(1 << bit)
                by_value = self.masks[dimension]
                for value in values:
                    by_value[value] = by_value.get(value, 0) | 1 << bit
        self._chosen: dict[int, tuple[Rule, ...]] = {}

    def candidates(self, f: conditions.Facts) -> tuple[Rule, ...]:
        free, masks = self.free, self.masks
        codes = free["offence"]
        for code, _, _ in f.offences:
            codes |= masks["offence"].get(code, 0)
        flags = free["flag"]
        for flag in f.flags:
            flags |= masks["flag"].get(flag, 0)
        mask = (
            codes
            & flags
            & (free["district"] | masks["district"].get(f.district, 0))
            & (free["municipality"] | masks["municipality"].get(f.municipality, 0))
            & (free["source"] | masks["source"].get(f.source, 0))
            & (free["quality"] | masks["quality"].get(f.quality_issues, 0))
        )
        chosen = self._chosen.get(mask)
        if chosen is None:
            chosen = tuple(r for bit, r in enumerate(self.rules) if mask >> bit & 1)
            if len(self._chosen) < 65536:  # bounded; distinct masks are few in practice
                self._chosen[mask] = chosen
        return chosen


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
    spec = read.mapping(value, line, "deadline", {*DURATION_KEYS, "from", "basis"})
    moment = spec.get("from", "report")
    if moment not in MOMENTS:
        raise read.fail(
            WrongTypeError,
            f"`from: {written(moment)}`: a deadline runs from one of {', '.join(MOMENTS)}",
            spec.key_lines.get("from", spec.line),
        )
    basis = spec.get("basis")
    if not isinstance(basis, str) or not basis.strip():
        raise read.fail(
            WrongTypeError, "a deadline needs its `basis` (legal basis as text)", spec.line
        )
    return DeadlineRule(duration(read, spec), moment, basis.strip())


def _rule(
    read: Reader, spec: Located, catalogue: Catalogue, reference: Reference, rule_id: str
) -> Rule:
    then = read.mapping(spec.get("then"), spec.line, "then", _THEN_KEYS)
    section, unit = then.get("section"), then.get("unit")
    if section is not None and unit is not None:
        raise read.fail(WrongTypeError, "a rule names a `section` or a `unit`, not both", then.line)
    if section is not None and section not in catalogue.section_names:
        raise read.fail(
            UnknownReferenceError,
            f"unknown section `{written(section)}`",
            then.key_lines["section"],
        )
    if unit is not None and unit != TRIAGE_UNIT and unit not in catalogue.units:
        raise read.fail(
            UnknownReferenceError, f"unknown unit `{written(unit)}`", then.key_lines["unit"]
        )
    priority = then.get("priority")
    if priority is not None and priority not in {p.value for p in Priority}:
        raise read.fail(
            WrongTypeError, f"unknown priority `{written(priority)}`", then.key_lines["priority"]
        )
    deadline = (
        _deadline(read, then["deadline"], then.key_lines["deadline"])
        if "deadline" in then
        else None
    )
    if not (section or unit or priority or deadline):
        raise read.fail(WrongTypeError, "`then` decides nothing", then.line)
    when = spec.get("when")
    test = conditions.compile(read, when, spec.key_lines.get("when", spec.line), reference)
    return Rule(
        id=rule_id,
        line=spec.line,
        test=test,
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
        raise read.fail(
            WrongTypeError,
            f"`version: {written(version)}`: `version: 1` is the only rules format",
            doc.key_lines.get("version", doc.line),
        )
    levels = read.mapping(
        doc.get("priorities"), doc.line, "priorities", {p.value for p in Priority}
    )
    amqp = {}
    for level in Priority:
        value = levels.get(level.value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 9:
            raise read.fail(
                WrongTypeError,
                f"`{level.value}: {written(value)}`: each priority needs an AMQP priority 0-9",
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
        index=RuleIndex(rules, reference),
    )
