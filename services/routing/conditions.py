"""Rule conditions: each YAML condition compiled once into a closure over `Facts`.

| condition | holds when |
|---|---|
| `all: [..]`, `any: [..]`, `not: {..}` | all / any / none of the inner conditions hold |
| `offence: {code, law, ssb_group}` | one offence matches every given key (each a text or list) |
| `municipality: [..]`, `district: [..]`, `source: [..]` | the report's value is listed |
| `person: {role, age_under, age_at_least, age_known, arrested}` | one person matches them all |
| `flag: name` / `flags: [names]` | the flag(s) are set |
| `quality_issues: true/false` | the report has (no) quality issues |
| `incident_older_than`, `report_older_than: {days: N}` | that long ago at decision time |

Several keys in one mapping must all hold. A person's age is unknown when the report gives
neither a valid identity number nor a birth date: `age_under` and `age_at_least` never hold
for such a person, `age_known: false` does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any

import msgspec

from schemas.reference import SSB_GROUPS, Reference
from schemas.report import Flags, Role
from services.routing.reading import (
    Reader,
    UnknownReferenceError,
    WrongTypeError,
    duration,
    written,
)

Predicate = Callable[["Facts"], bool]
FLAGS = frozenset(Flags.__struct_fields__)
_ROLES = frozenset(r.value for r in Role)


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


def _listed(
    read: Reader, value: Any, line: int, what: str, known: Collection[str] | None = None
) -> frozenset[str]:
    items = frozenset(read.strings(value, line, what))
    if known is not None:
        unknown = sorted(items - set(known))
        if unknown:
            raise read.fail(UnknownReferenceError, f"unknown {what}: {', '.join(unknown)}", line)
    return items


def _offence(read: Reader, value: Any, line: int, ref: Reference) -> Predicate:
    spec = read.mapping(value, line, "offence", {"code", "law", "ssb_group"})
    if "code" in spec:
        _listed(read, spec["code"], line, "offence code", ref.offences)
    if "law" in spec:
        _listed(read, spec["law"], line, "law", {o.law for o in ref.offences.values()})
    if "ssb_group" in spec:
        _listed(read, spec["ssb_group"], line, "SSB group", SSB_GROUPS)
    # Law and SSB group follow from the code, so every offence condition is a set of codes.
    codes = _offence_codes(spec, ref)

    def test(f: Facts) -> bool:
        return not codes.isdisjoint(f.codes)

    return test


def _int(read: Reader, value: Any, line: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 150:
        raise read.fail(
            WrongTypeError, f"`{what}: {written(value)}` must be a whole number 0-150", line
        )
    return value


_PERSON_KEYS = {"role", "age_under", "age_at_least", "age_known", "arrested"}


def _person(read: Reader, value: Any, line: int) -> Predicate:
    spec = read.mapping(value, line, "person", _PERSON_KEYS)
    roles = _listed(read, spec["role"], line, "role", _ROLES) if "role" in spec else None
    under = _int(read, spec["age_under"], line, "age_under") if "age_under" in spec else None
    least = (
        _int(read, spec["age_at_least"], line, "age_at_least") if "age_at_least" in spec else None
    )
    known = read.flag(spec, "age_known")
    if known is False and (under is not None or least is not None):
        raise read.fail(
            WrongTypeError,
            "`age_known: false` with `age_under` or `age_at_least` never holds: "
            "an unknown age is neither under nor at least a limit",
            line,
        )
    arrested = read.flag(spec, "arrested")

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


def _age(read: Reader, value: Any, line: int, moment: str) -> Predicate:
    spec = read.mapping(value, line, moment, {"weeks", "days", "hours", "minutes"})
    limit = duration(read, spec)
    attribute = "incident_at" if moment == "incident_older_than" else "reported_at"

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


def _one(read: Reader, key: str, inner: Any, at: int, ref: Reference) -> Predicate:
    if key in {"all", "any"}:
        if not isinstance(inner, list) or not inner:
            raise read.fail(WrongTypeError, f"`{key}` takes a non-empty list of conditions", at)
        subs = tuple(compile(read, c, at, ref) for c in inner)
        return _all(subs) if key == "all" else _any(subs)
    if key == "not":
        return _not(compile(read, inner, at, ref))
    if key == "offence":
        return _offence(read, inner, at, ref)
    if key == "municipality":
        return _member("municipality", _listed(read, inner, at, "municipality", ref.municipalities))
    if key == "district":
        districts = {m.police_district for m in ref.municipalities.values()}
        return _member("district", _listed(read, inner, at, "district", districts))
    if key == "source":
        return _member("source", _listed(read, inner, at, "source"))
    if key == "person":
        return _person(read, inner, at)
    if key in {"flag", "flags"}:
        return _flags(_listed(read, inner, at, "flag", FLAGS))
    if key == "quality_issues":
        if not isinstance(inner, bool):
            raise read.fail(
                WrongTypeError, f"`quality_issues: {written(inner)}` must be true or false", at
            )
        return _quality(inner)
    return _age(read, inner, at, key)


def compile(read: Reader, value: Any, line: int, ref: Reference) -> Predicate:
    """The predicate of one condition (a mapping whose keys must all hold)."""
    allowed = {
        "all",
        "any",
        "not",
        "offence",
        "municipality",
        "district",
        "source",
        "person",
        "flag",
        "flags",
        "quality_issues",
        "incident_older_than",
        "report_older_than",
    }
    spec = read.mapping(value, line, "a condition", allowed)
    if not spec:
        raise read.fail(WrongTypeError, "an empty condition", spec.line)
    here = spec.line
    parts: list[Predicate] = []
    for key, inner in spec.items():
        at = spec.key_lines.get(key, here)
        parts.append(_one(read, key, inner, at, ref))
    return parts[0] if len(parts) == 1 else _all(tuple(parts))


def explain(
    read: Reader, value: Any, line: int, ref: Reference, facts: Facts
) -> tuple[str, int] | None:
    """The first top-level condition of a `when` that does not hold (its key and line), or
    None when all hold."""
    spec = read.mapping(value, line, "a condition")
    for key, inner in spec.items():
        at = spec.key_lines.get(key, spec.line)
        if not _one(read, key, inner, at, ref)(facts):
            return key, at
    return None


# --- indexing: necessary conditions per rule, so most rules are never evaluated --------------

Requirements = dict[str, frozenset[Any]]  # per dimension, values of which one must be present
DIMENSIONS = ("offence", "district", "municipality", "flag", "source", "quality")


def _names(value: Any) -> list[Any]:
    """The values of a checked text-or-list, each as the text `_listed` compares (a plain
    number such as `municipality: [5001]` is the text "5001", as in reports)."""
    items = value if isinstance(value, list) else [value]
    return [str(i) if isinstance(i, int) and not isinstance(i, bool) else i for i in items]


def _offence_codes(spec: Any, ref: Reference) -> frozenset[str]:
    codes = set(ref.offences)
    if "code" in spec:
        codes &= set(_names(spec["code"]))
    if "law" in spec:
        codes = {c for c in codes if ref.offences[c].law in _names(spec["law"])}
    if "ssb_group" in spec:
        codes = {c for c in codes if ref.offences[c].ssb_group in _names(spec["ssb_group"])}
    return frozenset(codes)


def _both(a: Requirements, b: Requirements) -> Requirements:
    """Both hold: each dimension's values narrowed by the other."""
    merged = dict(a)
    for dimension, values in b.items():
        merged[dimension] = merged[dimension] & values if dimension in merged else values
    return merged


def _key_requirements(key: str, inner: Any, ref: Reference) -> Requirements:
    if key == "offence":
        return {"offence": _offence_codes(inner, ref)}
    if key == "district":
        return {"district": frozenset(_names(inner))}
    if key == "municipality":
        return {"municipality": frozenset(_names(inner))}
    if key == "source":
        return {"source": frozenset(_names(inner))}
    if key in {"flag", "flags"}:
        return {"flag": frozenset(_names(inner)[:1])}
    if key == "quality_issues":
        return {"quality": frozenset([inner])}
    if key == "all":
        merged: Requirements = {}
        for condition in inner:
            merged = _both(merged, requirements(condition, ref))
        return merged
    if key == "any":
        # One branch holds: only a dimension every branch constrains narrows the whole.
        parts = [requirements(condition, ref) for condition in inner]
        common = set.intersection(*(set(p) for p in parts))
        return {d: frozenset().union(*(p[d] for p in parts)) for d in common}
    return {}  # `not`, persons and ages give no value to look a rule up by


def requirements(value: Any, ref: Reference) -> Requirements:
    """Necessary conditions of an already checked condition: in each dimension named, one of
    the values must be among the report's (offence codes, district, municipality, flags,
    source, quality)."""
    merged: Requirements = {}
    for key, inner in value.items():
        merged = _both(merged, _key_requirements(key, inner, ref))
    return merged
