"""The rule index: which rules can match a report at all, from each rule's necessary conditions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, assert_never

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
from services.common.rules.conditions import Facts

if TYPE_CHECKING:  # rules builds the index; the index only holds its rules
    from services.common.rules.ruleset import Rule

Requirements = dict[str, frozenset[Any]]  # per dimension, values of which one must be present
DIMENSIONS = ("offence", "district", "municipality", "flag", "source", "quality")


def _both(a: Requirements, b: Requirements) -> Requirements:
    """Both hold: each dimension's values narrowed by the other."""
    merged = dict(a)
    for dimension, values in b.items():
        merged[dimension] = merged[dimension] & values if dimension in merged else values
    return merged


def requirements(condition: Condition) -> Requirements:
    """Necessary conditions of a condition: in each dimension named, one of the values must
    be among the report's (offence codes, district, municipality, flags, source, quality)."""
    match condition:
        case Offence(codes=codes):
            return {"offence": codes}
        case Member(key=key, values=values):
            return {key: frozenset(values)}
        case FlagSet(names=names):
            return {"flag": frozenset(names[:1])}
        case Quality(want=want):
            return {"quality": frozenset([want])}
        case AllOf(parts=parts):
            merged: Requirements = {}
            for part in parts:
                merged = _both(merged, requirements(part))
            return merged
        case AnyOf(parts=parts):
            # One branch holds: only a dimension every branch constrains narrows the whole.
            found = [requirements(part) for part in parts]
            common = set.intersection(*(set(p) for p in found))
            return {d: frozenset().union(*(p[d] for p in found)) for d in common}
        case Not() | Person() | Older():
            return {}  # give no value to look a rule up by
    assert_never(condition)


class RuleIndex:
    """Which rules can match a report at all, from necessary conditions of each rule.

    Per dimension (offence code, district, municipality, flag, source, quality issues) a
    rule is either unconstrained or needs one of some values. A report's candidates are the
    rules allowed in every dimension, as bit masks, in rule order; only they are tested, so
    a rule set ten times larger, mostly per district or per offence, costs little more.
    """

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        everything = (1 << len(rules)) - 1
        self.free = dict.fromkeys(DIMENSIONS, everything)
        self.masks: dict[str, dict[Any, int]] = {d: {} for d in DIMENSIONS}
        for bit, rule in enumerate(rules):
            for dimension, values in requirements(rule.when).items():
                self.free[dimension] &= ~(1 << bit)
                by_value = self.masks[dimension]
                for value in values:
                    by_value[value] = by_value.get(value, 0) | 1 << bit
        self._chosen: dict[int, tuple[Rule, ...]] = {}

    def candidates(self, f: Facts) -> tuple[Rule, ...]:
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
