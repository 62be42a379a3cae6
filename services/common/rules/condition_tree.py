"""A rule's `when`, parsed and checked once into a tree of typed conditions.

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

Every node carries the line of its key; every leaf its key and its value as written
(`written`, canonical JSON), so that the lint can tell conditions written alike. What the
tree means is derived from it elsewhere: the predicate and `explain` (`conditions`), the
rule index's requirements (`index`), the lint's atoms (`model`), the peers' translations.

A new key is read, checked and given its node type here, and nowhere else reads YAML. What
the key means must still be said once in each derivation (`conditions.predicate`,
`index.requirements`, `model.dimension` and the words in `model_search`, `bench/peers.py`):
each matches on the node types and ends in `assert_never`, so mypy names every place a new
type is missing. A new key of an existing type (another `Member` attribute) gets no such
warning: grep the derivations for the type's attributes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from schemas.reference import SSB_GROUPS, Reference
from schemas.report import Flags, Role
from services.common.rules.reading import (
    Duration,
    Located,
    Reader,
    UnknownReferenceError,
    WrongTypeError,
    duration,
    shown,
    suggestion,
    written_in,
)

FLAGS = frozenset(Flags.__struct_fields__)
_ROLES = frozenset(r.value for r in Role)


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every part holds: `all: [..]` (`keyed`), or the several keys of one mapping."""

    parts: tuple[Condition, ...]
    line: int
    keyed: bool
    key: ClassVar[str] = "all"


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one part holds: `any: [..]`."""

    parts: tuple[Condition, ...]
    line: int
    key: ClassVar[str] = "any"


@dataclass(frozen=True, slots=True)
class Not:
    """The part does not hold: `not: {..}`."""

    part: Condition
    line: int
    key: ClassVar[str] = "not"


@dataclass(frozen=True, slots=True)
class Offence:
    """One offence of the report is among `codes`: the catalogue codes that match every
    key given (`code`, `law`, `ssb_group`, each as written, None when not given)."""

    codes: frozenset[str]
    code: tuple[str, ...] | None
    law: tuple[str, ...] | None
    ssb_group: tuple[str, ...] | None
    line: int
    written: str
    key: ClassVar[str] = "offence"


@dataclass(frozen=True, slots=True)
class Member:
    """The report's municipality, district or source (`key`) is one of `values`."""

    key: Literal["municipality", "district", "source"]
    values: tuple[str, ...]
    line: int
    written: str


@dataclass(frozen=True, slots=True)
class Person:
    """One person matches every part given (None: not asked); ages in whole years."""

    roles: tuple[str, ...] | None
    age_under: int | None
    age_at_least: int | None
    age_known: bool | None
    arrested: bool | None
    line: int
    written: str
    key: ClassVar[str] = "person"


@dataclass(frozen=True, slots=True)
class FlagSet:
    """Every named flag is set: `flag: name` or `flags: [names]` (`key` as written)."""

    key: str  # `flag` or `flags`
    names: tuple[str, ...]
    line: int
    written: str


@dataclass(frozen=True, slots=True)
class Quality:
    """The report has quality issues (`want` true) or has none (false)."""

    want: bool
    line: int
    written: str
    key: ClassVar[str] = "quality_issues"


@dataclass(frozen=True, slots=True)
class Older:
    """The incident's start or the report (`key`) lies more than `limit` before now."""

    key: str  # `incident_older_than` or `report_older_than`
    limit: Duration
    line: int
    written: str


Leaf = Offence | Member | Person | FlagSet | Quality | Older
Condition = AllOf | AnyOf | Not | Leaf

KEYS = frozenset(
    {"all", "any", "not", "offence", "municipality", "district", "source", "person"}
    | {"flag", "flags", "quality_issues", "incident_older_than", "report_older_than"}
)


def leaves(condition: Condition, sign: bool = True) -> Iterator[tuple[Leaf, bool]]:
    """The leaves of a condition with their polarity (False under an odd number of `not`),
    in the order written."""
    match condition:
        case AllOf(parts=parts) | AnyOf(parts=parts):
            for part in parts:
                yield from leaves(part, sign)
        case Not(part=part):
            yield from leaves(part, not sign)
        case _:
            yield condition, sign


# --- the parser -----------------------------------------------------------------------------


def parse(read: Reader, value: Any, line: int, ref: Reference) -> Condition:
    """The tree of one condition (a mapping whose keys must all hold), checked: a
    `RulesError` names the line and quotes what is wrong as written."""
    spec = read.mapping(value, line, "a condition", set(KEYS))
    if not spec:
        raise read.fail(WrongTypeError, "an empty condition", spec.line)
    parts = tuple(_one(read, spec, key, spec.key_lines.get(key, spec.line), ref) for key in spec)
    return parts[0] if len(parts) == 1 else AllOf(parts, spec.line, keyed=False)


def _written(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _one(read: Reader, spec: Located, key: str, at: int, ref: Reference) -> Condition:
    inner = spec[key]
    if key in {"all", "any"}:
        if not isinstance(inner, list) or not inner:
            raise read.fail(WrongTypeError, f"`{key}` takes a non-empty list of conditions", at)
        subs = tuple(parse(read, c, at, ref) for c in inner)
        return AllOf(subs, at, keyed=True) if key == "all" else AnyOf(subs, at)
    if key == "not":
        return Not(parse(read, inner, at, ref), at)
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
        return Member("municipality", numbers, at, _written(inner))
    if key == "district":
        districts = {m.police_district for m in ref.municipalities.values()}
        names = _listed(read, spec, key, at, "district", districts)
        return Member("district", names, at, _written(inner))
    if key == "source":
        return Member("source", _listed(read, spec, key, at, "source"), at, _written(inner))
    if key == "person":
        return _person(read, inner, at)
    if key == "flag" or key == "flags":
        return FlagSet(key, _listed(read, spec, key, at, "flag", FLAGS), at, _written(inner))
    if key == "quality_issues":
        if not isinstance(inner, bool):
            raise read.fail(
                WrongTypeError,
                f"{shown(spec, key)} must be true or false (whether the report has any quality "
                "issue; a rule cannot name one)",
                at,
            )
        return Quality(inner, at, _written(inner))
    assert key == "incident_older_than" or key == "report_older_than"  # KEYS: nothing else
    older = read.mapping(inner, at, key, {"weeks", "days", "hours", "minutes"})
    return Older(key, duration(read, older), at, _written(inner))


def _listed(
    read: Reader,
    parent: Located,
    key: str,
    line: int,
    what: str,
    known: Collection[str] | None = None,
    aliases: dict[str, str] | None = None,
) -> tuple[str, ...]:
    """The text or texts of `parent[key]` in the order written (a plain number such as
    `municipality: [5001]` is the text "5001", as in reports); each must be `known` (when
    given), else refused quoting each unknown one as written, with the known one meant
    where one is close."""
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
    return tuple(items)


def _offence(read: Reader, value: Any, line: int, ref: Reference) -> Offence:
    spec = read.mapping(value, line, "offence", {"code", "law", "ssb_group"})
    code = law = group = None
    if "code" in spec:
        code = _listed(read, spec, "code", line, "offence code", ref.offences, ref.offence_labels)
    if "law" in spec:
        law = _listed(read, spec, "law", line, "law", {o.law for o in ref.offences.values()})
    if "ssb_group" in spec:
        group = _listed(read, spec, "ssb_group", line, "SSB group", SSB_GROUPS)
    # Law and SSB group follow from the code, so every offence condition is a set of codes.
    codes = {
        c
        for c, o in ref.offences.items()
        if (code is None or c in code)
        and (law is None or o.law in law)
        and (group is None or o.ssb_group in group)
    }
    return Offence(frozenset(codes), code, law, group, line, _written(value))


def _int(read: Reader, spec: Located, key: str, line: int) -> int | None:
    if key not in spec:
        return None
    value = spec[key]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 150:
        raise read.fail(WrongTypeError, f"{shown(spec, key)} must be a whole number 0-150", line)
    return value


_PERSON_KEYS = {"role", "age_under", "age_at_least", "age_known", "arrested"}


def _person(read: Reader, value: Any, line: int) -> Person:
    spec = read.mapping(value, line, "person", _PERSON_KEYS)
    roles = _listed(read, spec, "role", line, "role", _ROLES) if "role" in spec else None
    under = _int(read, spec, "age_under", line)
    least = _int(read, spec, "age_at_least", line)
    known = read.flag(spec, "age_known")
    if known is False and (under is not None or least is not None):
        raise read.fail(
            WrongTypeError,
            "`age_known: false` with `age_under` or `age_at_least` never holds: "
            "an unknown age is neither under nor at least a limit",
            line,
        )
    arrested = read.flag(spec, "arrested")
    return Person(roles, under, least, known, arrested, line, _written(value))
