"""Rule conditions compiled: each condition tree (`condition_tree`) a closure over `Facts`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import assert_never

import msgspec

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

Predicate = Callable[["Facts"], bool]


# msgspec Structs, not dataclasses: built once per report and person on the hot path,
# where a frozen dataclass's __init__ costs several times more.
class PersonFacts(msgspec.Struct, frozen=True):
    role: str
    age: int | None
    arrested: bool


class Facts(msgspec.Struct, frozen=True, kw_only=True):
    """What rules look at, computed once per report."""

    offences: tuple[tuple[str | None, str | None, str | None], ...]  # code, law, SSB group
    municipality: str | None
    district: str | None
    source: str
    persons: tuple[PersonFacts, ...]
    flags: frozenset[str]
    quality_issues: bool
    incident_at: dt.datetime
    reported_at: dt.datetime
    now: dt.datetime
    codes: frozenset[str] = frozenset()  # derived from `offences`, whatever is passed

    def __post_init__(self) -> None:
        codes = frozenset(c for c, _, _ in self.offences if c)
        msgspec.structs.force_setattr(self, "codes", codes)


def predicate(condition: Condition) -> Predicate:
    """The condition as one closure over `Facts`, built once; each node's test reads only
    what it needs, and sets are built here rather than per report."""
    match condition:
        case AllOf(parts=parts):
            return _all(tuple(predicate(p) for p in parts))
        case AnyOf(parts=parts):
            return _any(tuple(predicate(p) for p in parts))
        case Not(part=part):
            return _not(predicate(part))
        case Offence(codes=codes):
            return _offence(codes)
        case Member(key=key, values=values):
            return _member(key, frozenset(values))
        case Person():
            return _person(condition)
        case FlagSet(names=names):
            return _flags(frozenset(names))
        case Quality(want=want):
            return _quality(want)
        case Older(key=key, limit=limit):
            started = "incident_at" if key == "incident_older_than" else "reported_at"
            return _older(started, limit.delta)
    assert_never(condition)


def top_level(when: Condition) -> tuple[Condition, ...]:
    """The conditions a rule's `when` lists side by side (each must hold), in file order."""
    return when.parts if isinstance(when, AllOf) and not when.keyed else (when,)


def explain(when: Condition, facts: Facts) -> tuple[str, int] | None:
    """The first top-level condition of a `when` that does not hold (its key and line), or
    None when all hold."""
    for part in top_level(when):
        if not predicate(part)(facts):
            return part.key, part.line
    return None


def _offence(codes: frozenset[str]) -> Predicate:
    def test(f: Facts) -> bool:
        return not codes.isdisjoint(f.codes)

    return test


def _person(spec: Person) -> Predicate:
    roles = None if spec.roles is None else frozenset(spec.roles)
    under, least, known, arrested = spec.age_under, spec.age_at_least, spec.age_known, spec.arrested

    def test(f: Facts) -> bool:
        for p in f.persons:
            if roles is not None and p.role not in roles:
                continue
            if under is not None and (p.age is None or p.age >= under):
                continue
            if least is not None and (p.age is None or p.age < least):
                continue
            if known is not None and (p.age is not None) != known:
                continue
            if arrested is not None and p.arrested != arrested:
                continue
            return True
        return False

    return test


def _older(attribute: str, limit: dt.timedelta) -> Predicate:
    def test(f: Facts) -> bool:
        started: dt.datetime = getattr(f, attribute)
        return f.now - started > limit

    return test


def _all(parts: tuple[Predicate, ...]) -> Predicate:
    def test(f: Facts) -> bool:
        return all(p(f) for p in parts)

    return test


def _any(parts: tuple[Predicate, ...]) -> Predicate:
    def test(f: Facts) -> bool:
        return any(p(f) for p in parts)

    return test


def _not(part: Predicate) -> Predicate:
    def test(f: Facts) -> bool:
        return not part(f)

    return test


def _member(attribute: str, values: frozenset[str]) -> Predicate:
    def test(f: Facts) -> bool:
        return getattr(f, attribute) in values

    return test


def _flags(names: frozenset[str]) -> Predicate:
    def test(f: Facts) -> bool:
        return names <= f.flags

    return test


def _quality(want: bool) -> Predicate:
    def test(f: Facts) -> bool:
        return f.quality_issues == want

    return test
