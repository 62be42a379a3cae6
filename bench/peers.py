"""Peer rule engines for the routing benchmark: our rules, translated automatically.

Each rule's condition tree (`rule.when`, see `services.common.rules.condition_tree`) is written
out as a condition in a peer's language, over a flat context built from the standardised
report:

- zen-engine (GoRules): one JDM decision table, one row per rule, one input column holding
  the whole translated condition as a ZEN expression; outputs rule id, section, unit and
  priority. Hit policy `collect` gives every matching row in rule order (what our hit policy
  needs); hit policy `first` over the unit-naming rules only gives the unit rule alone.
- rule-engine: one `rule_engine.Rule` per rule, evaluated in order.

Both finish the decision the way ours does (`services.common.rules.engine`): the first matching
rule naming a unit or a section decides the unit (a section in the report's own district),
and the priority is the highest of the offences' default priorities and the matching rules'.
Deadlines are not computed by the peers.

The context (what the conditions read):

| name | value |
|---|---|
| `offences` | list of `{code, law, group, priority}` (catalogue values; null when unknown) |
| `municipality`, `district`, `source` | text or null |
| `persons` | list of `{role, age, arrested}` (age null when unknown) |
| `flags` | list of the flag names that are set |
| `quality_issues` | true when the report has any |
| `incident_age`, `report_age` | seconds from the incident's start / the report to `now` |
"""

from __future__ import annotations

import abc
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, assert_never

import rule_engine  # type: ignore[import-untyped]
import zen

from schemas.decision import TRIAGE_UNIT, Decision, Priority
from schemas.reference import Reference
from schemas.report import Report
from services.common.rules.condition_tree import (
    AllOf,
    AnyOf,
    Condition,
    FlagSet,
    Member,
    Not,
    Offence,
    Older,
    Person,
    Quality,
)
from services.common.rules.ruleset import Rule, RuleSet

Context = dict[str, Any]

_AGE_FIELDS = {"incident_older_than": "incident_age", "report_older_than": "report_age"}
_FLAG_NAMES = ("domestic_violence", "hate_motive", "weapon", "ongoing_danger")


# --- the context ----------------------------------------------------------------------------


def context_of(report: Report, reference: Reference, now: dt.datetime) -> Context:
    """The flat context the peers' conditions read, from a standardised report."""
    offences = []
    for offence in report.offences:
        entry = reference.offence(offence.code) if offence.code else None
        offences.append(
            {
                "code": offence.code,
                "law": entry.law if entry else None,
                "group": entry.ssb_group if entry else None,
                "priority": entry.default_priority.value if entry else None,
            }
        )
    flags = report.flags
    return {
        "offences": offences,
        "municipality": report.incident.municipality,
        "district": reference.district_of(report.incident.municipality),
        "source": report.source,
        "persons": [
            {"role": p.role.value, "age": p.age_at_incident, "arrested": p.arrested_at is not None}
            for p in report.persons
        ],
        "flags": [name for name in _FLAG_NAMES if getattr(flags, name)],
        "quality_issues": bool(report.quality_issues),
        "incident_age": (now - report.incident.occurred_from).total_seconds(),
        "report_age": (now - report.reported_at).total_seconds(),
    }


# --- translation ----------------------------------------------------------------------------


class Dialect(abc.ABC):
    """How one peer language writes the pieces a condition is made of."""

    @abc.abstractmethod
    def text(self, value: str) -> str: ...

    def texts(self, values: Sequence[str]) -> str:
        return "[" + ", ".join(self.text(v) for v in values) + "]"

    @abc.abstractmethod
    def field(self, item: str, name: str) -> str:
        """A field of the current item inside `exists`."""

    @abc.abstractmethod
    def exists(self, collection: str, item: str, condition: str) -> str:
        """True when one element of the collection satisfies the condition."""

    def both(self, parts: Sequence[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"

    def either(self, parts: Sequence[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

    def negate(self, part: str) -> str:
        return f"(not ({part}))"


class ZenDialect(Dialect):
    """ZEN expressions (standard mode): `some(list, #.field ...)`, `x in [..]`."""

    def text(self, value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    def field(self, item: str, name: str) -> str:
        return f"#.{name}"

    def exists(self, collection: str, item: str, condition: str) -> str:
        return f"some({collection}, {condition})"


class RuleEngineDialect(Dialect):
    """rule-engine expressions: `$any([true for o in list if ...])`, `x in [..]`."""

    def text(self, value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    def field(self, item: str, name: str) -> str:
        return f"{item}[{self.text(name)}]"

    def exists(self, collection: str, item: str, condition: str) -> str:
        return f"$any([true for {item} in {collection} if {condition}])"


def translate(when: Condition, d: Dialect) -> str:
    """A rule's condition tree (`rule.when`) in the dialect's language."""
    match when:
        case AllOf(parts=parts):
            return d.both([translate(part, d) for part in parts])
        case AnyOf(parts=parts):
            return d.either([translate(part, d) for part in parts])
        case Not(part=part):
            return d.negate(translate(part, d))
        case Offence():
            given = (("code", when.code), ("law", when.law), ("group", when.ssb_group))
            tests = [
                f"{d.field('o', name)} in {d.texts(values)}"
                for name, values in given
                if values is not None
            ]
            return d.exists("offences", "o", d.both(tests) if tests else "true")
        case Member(key=key, values=values):
            return f"{key} in {d.texts(values)}"
        case Person():
            return d.exists("persons", "p", _person(when, d))
        case FlagSet(names=names):
            return d.both([f"{d.text(name)} in flags" for name in names])
        case Quality(want=want):
            return f"quality_issues == {str(want).lower()}"
        case Older(key=key, limit=limit):
            return f"{_AGE_FIELDS[key]} > {int(limit.delta.total_seconds())}"
    assert_never(when)


def _person(person: Person, d: Dialect) -> str:
    age = d.field("p", "age")
    tests = []
    if person.roles is not None:
        tests.append(f"{d.field('p', 'role')} in {d.texts(person.roles)}")
    if person.age_under is not None:
        tests.append(f"({age} != null and {age} < {person.age_under})")
    if person.age_at_least is not None:
        tests.append(f"({age} != null and {age} >= {person.age_at_least})")
    if person.age_known is not None:
        tests.append(f"{age} {'!=' if person.age_known else '=='} null")
    if person.arrested is not None:
        tests.append(f"{d.field('p', 'arrested')} == {str(person.arrested).lower()}")
    return d.both(tests) if tests else "true"


# --- finishing a decision the way ours does -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an engine decided: the matching rules (None when it only looked for the unit
    rule), the rule that decided the unit, the unit, and the priority (None when not
    computed)."""

    matched: tuple[str, ...] | None
    unit_rule: str | None
    unit: str
    priority: Priority | None


def _unit(
    rows: Sequence[Mapping[str, Any]], ruleset: RuleSet, district: str | None
) -> tuple[str | None, str]:
    """The unit rule and the unit from matching rows in order (the engine's hit policy)."""
    for row in rows:
        unit, section = row.get("unit"), row.get("section")
        if unit is not None:
            return row["rule"], unit
        if section is not None:
            if district is None:
                return row["rule"], TRIAGE_UNIT
            home = ruleset.catalogue.districts[district]
            if section in home.sections:
                return row["rule"], home.unit(section)
    if district is None:
        return None, TRIAGE_UNIT
    home = ruleset.catalogue.districts[district]
    return None, home.unit(home.default)


def _priority(context: Context, rows: Sequence[Mapping[str, Any]]) -> Priority:
    levels = [Priority(o["priority"]) for o in context["offences"] if o["priority"]]
    levels += [Priority(r["priority"]) for r in rows if r.get("priority")]
    return max(levels, key=lambda p: p.rank, default=Priority.NORMAL)


def _rows_of(rules: Sequence[Rule]) -> list[dict[str, Any]]:
    """What each rule decides, as the peers' tables output it."""
    return [
        {
            "rule": r.id,
            "section": r.section,
            "unit": r.unit,
            "priority": r.priority.value if r.priority else None,
        }
        for r in rules
    ]


def ours(decision: Decision, ruleset: RuleSet) -> Outcome:
    """Our engine's decision in the peers' terms (the unit rule found from its matches)."""
    by_id = {r["rule"]: r for r in _rows_of(ruleset.rules)}
    rows = [by_id[rule_id] for rule_id in decision.matched_rules]
    unit_rule, _ = _unit(rows, ruleset, decision.district)
    return Outcome(tuple(decision.matched_rules), unit_rule, decision.unit, decision.priority)


def disagreements(expected: Outcome, got: Outcome) -> list[str]:
    """What differs ('matched', 'unit_rule', 'unit', 'priority'); parts a peer did not
    compute are not compared."""
    found = []
    if got.matched is not None and got.matched != expected.matched:
        found.append("matched")
    if got.unit_rule != expected.unit_rule:
        found.append("unit_rule")
    if got.unit != expected.unit:
        found.append("unit")
    if got.priority is not None and got.priority != expected.priority:
        found.append("priority")
    return found


# --- the peers ------------------------------------------------------------------------------


class Peer(abc.ABC):
    """A peer engine holding our rule set in its own form."""

    name = "peer"

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self.reference = ruleset.reference

    @abc.abstractmethod
    def evaluate(self, context: Context) -> Outcome: ...

    def decide(self, report: Report, now: dt.datetime) -> Outcome:
        """Context from the report, evaluation, the decision finished as ours is."""
        return self.evaluate(context_of(report, self.reference, now))


def jdm(ruleset: RuleSet, hit_policy: str = "collect") -> dict[str, Any]:
    """The JDM graph: input → one decision table → output. `collect`: every rule, every
    matching row returned in order; `first`: the unit-naming rules only, the first match."""
    dialect = ZenDialect()
    rules = [r for r in ruleset.rules if hit_policy == "collect" or r.names_unit]
    table_rows = [
        {
            "_id": rule.id,
            "when": translate(rule.when, dialect),
            **{k: "null" if v is None else dialect.text(v) for k, v in row.items()},
        }
        for rule, row in zip(rules, _rows_of(rules), strict=True)
    ]
    outputs = [{"id": k, "name": k, "field": k} for k in ("rule", "section", "unit", "priority")]
    at = {"x": 0, "y": 0}
    table = {
        "hitPolicy": hit_policy,
        "inputs": [{"id": "when", "name": "when"}],
        "outputs": outputs,
        "rules": table_rows,
    }
    return {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "report", "position": at, "content": {}},
            {
                "id": "rules",
                "type": "decisionTableNode",
                "name": "routing rules",
                "position": at,
                "content": table,
            },
            {"id": "out", "type": "outputNode", "name": "decision", "position": at, "content": {}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "in", "targetId": "rules", "type": "edge"},
            {"id": "e2", "sourceId": "rules", "targetId": "out", "type": "edge"},
        ],
    }


class ZenPeer(Peer):
    """zen-engine: the rules as one JDM decision table, evaluated from Python."""

    def __init__(self, ruleset: RuleSet, hit_policy: str = "collect") -> None:
        super().__init__(ruleset)
        self.hit_policy = hit_policy
        self.name = f"zen-engine ({hit_policy})"
        self.graph = jdm(ruleset, hit_policy)
        self.decision = zen.ZenEngine().create_decision(json.dumps(self.graph))

    def evaluate(self, context: Context) -> Outcome:
        # `collect` answers a list of the matching rows, `first` one row (or nothing).
        result: Any = self.decision.evaluate(context)["result"]
        district = context["district"]
        if self.hit_policy == "first":
            unit_rule, unit = _unit([result] if result else [], self.ruleset, district)
            return Outcome(None, unit_rule, unit, None)
        rows: list[dict[str, Any]] = result
        unit_rule, unit = _unit(rows, self.ruleset, district)
        matched = tuple(row["rule"] for row in rows)
        return Outcome(matched, unit_rule, unit, _priority(context, rows))


class RuleEnginePeer(Peer):
    """rule-engine: one compiled `rule_engine.Rule` per rule, evaluated in order."""

    name = "rule-engine"

    def __init__(self, ruleset: RuleSet) -> None:
        super().__init__(ruleset)
        dialect = RuleEngineDialect()
        self.expressions = {r.id: translate(r.when, dialect) for r in ruleset.rules}
        self.rules: list[tuple[Callable[[Context], bool], dict[str, Any]]] = [
            (rule_engine.Rule(self.expressions[rule.id]).matches, row)
            for rule, row in zip(ruleset.rules, _rows_of(ruleset.rules), strict=True)
        ]

    def evaluate(self, context: Context) -> Outcome:
        rows = [row for matches, row in self.rules if matches(context)]
        unit_rule, unit = _unit(rows, self.ruleset, context["district"])
        matched = tuple(row["rule"] for row in rows)
        return Outcome(matched, unit_rule, unit, _priority(context, rows))
