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
    Located,
    Reader,
    UnknownReferenceError,
    WrongTypeError,
    duration,
    shown,
    suggestion,
    written_in,
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
    read: Reader,
    parent: Located,
    key: str,
    line: int,
    what: str,
    known: Collection[str] | None = None,
    aliases: dict[str, str] | None = None,
) -> frozenset[str]:
    """The text or texts of `parent[key]`; each must be `known` (when given), else refused
    quoting each unknown one as written, with the known one meant where one is close."""
    value = parent[key]
    items = read.strings(value, line, what)
    if known is not None:
        unknown = [
            f"`{written_in(value, i) if isinstance(value, list) else written_in(parent, key)}`"
            + suggestion(item, known, aliases)
            for i, item in enumerate(items)
            if item not in known
        ]
        if unknown:
            raise read.fail(UnknownReferenceError, f"unknown {what} {', '.join(unknown)}", line)
    return frozenset(items)


def _offence(read: Reader, value: Any, line: int, ref: Reference) -> Predicate:
    spec = read.mapping(value, line, "offence", {"code", "law", "ssb_group"})
    if "code" in spec:
        _listed(read, spec, "code", line, "offence code", ref.offences, ref.offence_labels)
    if "law" in spec:
        _listed(read, spec, "law", line, "law", {o.law for o in ref.offences.values()})
    if "ssb_group" in spec:
        _listed(read, spec, "ssb_group", line, "SSB group", SSB_GROUPS)
    # Law and SSB group follow from the code, so every offence condition is a set of codes.
    codes = offence_codes(spec, ref)

    def test(f: Facts) -> bool:
        return not codes.isdisjoint(f.codes)

    return test


def _int(read: Reader, spec: Located, key: str, line: int) -> int:
    value = spec[key]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 150:
        raise read.fail(WrongTypeError, f"{shown(spec, key)} must be a whole number 0-150", line)
    return value


_PERSON_KEYS = {"role", "age_under", "age_at_least", "age_known", "arrested"}


def _person(read: Reader, value: Any, line: int) -> Predicate:
    spec = read.mapping(value, line, "person", _PERSON_KEYS)
    roles = _listed(read, spec, "role", line, "role", _ROLES) if "role" in spec else None
    under = _int(read, spec, "age_under", line) if "age_under" in spec else None
    least = _int(read, spec, "age_at_least", line) if "age_at_least" in spec else None
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
    limit = duration(read, spec).delta
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


def _one(read: Reader, spec: Located, key: str, at: int, ref: Reference) -> Predicate:
    inner = spec[key]
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
        named = {
            n: numbers[0] for n, numbers in ref.municipality_names.items() if len(numbers) == 1
        }
        moved = {old: new[0] for old, new in ref.municipality_changes.items() if len(new) == 1}
        zeros = {n.lstrip("0"): n for n in ref.municipalities if n.startswith("0")}
        aliases = {**named, **moved, **zeros}  # Oslo, 3024 (now 3201), 301 -> the number
        numbers = _listed(read, spec, key, at, key, ref.municipalities, aliases)
        return _member("municipality", numbers)
    if key == "district":
        districts = {m.police_district for m in ref.municipalities.values()}
        return _member("district", _listed(read, spec, key, at, "district", districts))
    if key == "source":
        return _member("source", _listed(read, spec, key, at, "source"))
    if key == "person":
        return _person(read, inner, at)
    if key in {"flag", "flags"}:
        return _flags(_listed(read, spec, key, at, "flag", FLAGS))
    if key == "quality_issues":
        if not isinstance(inner, bool):
            raise read.fail(
                WrongTypeError,
                f"{shown(spec, key)} must be true or false (whether the report has any quality "
                "issue; a rule cannot name one)",
                at,
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
    for key in spec:
        at = spec.key_lines.get(key, here)
        parts.append(_one(read, spec, key, at, ref))
    return parts[0] if len(parts) == 1 else _all(tuple(parts))


def explain(
    read: Reader, value: Any, line: int, ref: Reference, facts: Facts
) -> tuple[str, int] | None:
    """The first top-level condition of a `when` that does not hold (its key and line), or
    None when all hold."""
    spec = read.mapping(value, line, "a condition")
    for key in spec:
        at = spec.key_lines.get(key, spec.line)
        if not _one(read, spec, key, at, ref)(facts):
            return key, at
    return None


def names(value: Any) -> list[Any]:
    """The values of a checked text-or-list, each as the text `_listed` compares (a plain
    number such as `municipality: [5001]` is the text "5001", as in reports)."""
    items = value if isinstance(value, list) else [value]
    return [str(i) if isinstance(i, int) and not isinstance(i, bool) else i for i in items]


def offence_codes(spec: Any, ref: Reference) -> frozenset[str]:
    """The catalogue codes an already checked `offence` condition holds for: its law and
    SSB group follow from the code, so every offence condition is a set of codes."""
    codes = set(ref.offences)
    if "code" in spec:
        codes &= set(names(spec["code"]))
    if "law" in spec:
        codes = {c for c in codes if ref.offences[c].law in names(spec["law"])}
    if "ssb_group" in spec:
        codes = {c for c in codes if ref.offences[c].ssb_group in names(spec["ssb_group"])}
    return frozenset(codes)
