"""Why a report met or missed each rule: the conditions that failed, and the unit each rule
would send it to (the rules CLI's `explain` and the intake's triage both read it)."""

from __future__ import annotations

import msgspec

from schemas.decision import TRIAGE_UNIT
from services.common.rules import conditions
from services.common.rules.conditions import Facts
from services.common.rules.ruleset import Rule, RuleSet
from services.common.rules.units import Catalogue


class Missed(msgspec.Struct, frozen=True):
    """A top-level condition of a rule that does not hold: its key and line in the file."""

    key: str
    line: int


class RuleCheck(msgspec.Struct, frozen=True):
    """One rule against one report: the top-level conditions that failed (file order) and
    how many held, and the unit the rule names for this report (None: it names none, or a
    section the report's district lacks or cannot be known)."""

    rule_id: str
    line: int
    missed: tuple[Missed, ...]
    held: int
    unit: str | None

    @property
    def matched(self) -> bool:
        return not self.missed

    @property
    def nearly(self) -> bool:
        """One condition short of matching."""
        return len(self.missed) == 1


def rule_unit(rule: Rule, catalogue: Catalogue, district: str | None) -> str | None:
    """The unit a rule sends a report of `district` (a district's name) to, as `decide`
    reads it; None when the rule names no unit or its section is not the district's."""
    if rule.unit is not None:
        return rule.unit
    if rule.section is None or district is None:
        return None
    home = catalogue.districts[district]
    return home.unit(rule.section) if rule.section in home.sections else None


def check_rules(ruleset: RuleSet, facts: Facts) -> list[RuleCheck]:
    """Every rule of the set, in file order, checked against the report's facts."""
    checks = []
    for rule in ruleset.rules:
        tops = conditions.top_level(rule.when)
        missed = tuple(
            Missed(part.key, part.line) for part in tops if not conditions.predicate(part)(facts)
        )
        unit = rule_unit(rule, ruleset.catalogue, facts.district)
        checks.append(RuleCheck(rule.id, rule.line, missed, len(tops) - len(missed), unit))
    return checks


def closest_units(checks: list[RuleCheck]) -> list[str]:
    """The units of the rules that matched or came one condition short, closest first (more
    conditions held, then file order), each once; never triage."""
    near = [c for c in checks if (c.matched or c.nearly) and c.unit not in (None, TRIAGE_UNIT)]
    near.sort(key=lambda c: (len(c.missed), -c.held))  # stable: file order among equals
    return list(dict.fromkeys(c.unit for c in near if c.unit is not None))


def describe(check: RuleCheck) -> str:
    """The check as one line: `match     id (line n)` or `no match  id (line n): `key`
    (line m) fails` naming the first condition that failed."""
    if check.matched:
        return f"match     {check.rule_id} (line {check.line})"
    first = check.missed[0]
    return f"no match  {check.rule_id} (line {check.line}): `{first.key}` (line {first.line}) fails"
