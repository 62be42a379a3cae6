"""The lint's finite model of the facts rules can tell apart: atoms, elements and classes.

The search over it, and the words a witness report is described in, are `model_search`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, assert_never

from schemas.decision import TRIAGE_UNIT
from schemas.report import Role
from services.common.rules import condition_tree, conditions, index
from services.common.rules.condition_tree import FlagSet, Leaf, Member, Older, Person, Quality
from services.common.rules.conditions import Facts, PersonFacts
from services.common.rules.ruleset import Rule, RuleSet

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# Facts combinations one question may try; beyond it the search is bounded and says so.
BUDGET = 20_000
BASE: dict[str, Any] = {
    "offences": (),
    "municipality": None,
    "district": None,
    "source": "",
    "persons": (),
    "flags": frozenset(),
    "quality_issues": False,
    "incident_at": NOW,
    "reported_at": NOW,
    "now": NOW,
}

Signs = dict[str, set[bool]]  # atom ident -> the polarities it occurs with in a formula
Offence = tuple[str | None, str | None, str | None]
Place = tuple[str | None, str | None]


ERASED = "erased:"


def erased(person: PersonFacts) -> PersonFacts:
    """The same person with the age unknown."""
    return PersonFacts(person.role, None, person.arrested)


class Finding(NamedTuple):
    """One lint finding; a `warning` fails `fsi-rules check`, a `note` only with --strict."""

    severity: str
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class Atom:
    """One leaf condition (`offence: ...`, `flag: ...`), compiled on its own; `ident` is
    its dimension, key and value as written, so leaves written alike are one atom."""

    ident: str
    leaf: Leaf
    test: conditions.Predicate

    @property
    def key(self) -> str:
        return self.leaf.key

    @property
    def line(self) -> int:
        return self.leaf.line

    @property
    def dimension(self) -> str:
        return dimension(self.leaf)


# --- atoms ----------------------------------------------------------------------------------


def dimension(leaf: Leaf) -> str:
    """Which of the model's dimensions a leaf reads: offences, persons and places are
    enumerated, the others take one value per interval the leaves' constants cut."""
    match leaf:
        case condition_tree.Offence():
            return "offences"
        case Person():
            return "persons"
        case Member(key="source"):
            return "source"
        case Member():
            return "place"
        case FlagSet():
            return "flags"
        case Quality():
            return "quality"
        case Older(key=key):
            return "incident_at" if key == "incident_older_than" else "reported_at"
    assert_never(leaf)


def flip(signs: Signs) -> Signs:
    return {ident: {not s for s in polarities} for ident, polarities in signs.items()}


def merge(parts: Iterable[Signs]) -> Signs:
    merged: Signs = {}
    for part in parts:
        for ident, polarities in part.items():
            merged.setdefault(ident, set()).update(polarities)
    return merged


# --- the finite model of the facts ----------------------------------------------------------


def _offence_elements(ruleset: RuleSet) -> list[Offence]:
    known: list[Offence] = [(c, o.law, o.ssb_group) for c, o in ruleset.reference.offences.items()]
    return [*known, (None, None, None)]  # an uncoded or unknown offence, last: least telling


def _person_elements() -> list[PersonFacts]:
    roles = [r.value for r in Role]
    ages: list[int | None] = [*range(151), None]
    people = [
        PersonFacts(r, a, arrested) for r in roles for a in ages for arrested in (False, True)
    ]
    # the first member of a class describes it: a plain role, an age near 30, age known
    return sorted(
        people,
        key=lambda p: (p.arrested, p.age is None, abs((p.age or 0) - 30), roles.index(p.role)),
    )


def _place_elements(ruleset: RuleSet) -> list[Place]:
    known: list[Place] = [
        (n, m.police_district) for n, m in ruleset.reference.municipalities.items()
    ]
    return [*known, (None, None)]


class Model:
    """The facts that rules can tell apart, as finitely many classes, and a search over them.

    Every leaf condition (an atom) is compiled alone. Offences, persons and places are
    enumerated in full (all catalogue codes and an uncoded one; every role, age 0-150 or
    unknown, arrested or not; every municipality and none) and grouped into classes that
    the atoms of one question cannot tell apart. Source, flags, quality and the two ages
    take one value per interval the atoms' constants cut. A question is then answered by
    trying every combination with the rules' own compiled tests, which is exact.
    """

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self.atoms: dict[str, Atom] = {}
        self.signs = {rule.id: self._analyse(rule) for rule in ruleset.rules}
        self.elements: dict[str, Sequence[Any]] = {
            "offences": _offence_elements(ruleset),
            "persons": _person_elements(),
            "place": _place_elements(ruleset),
        }
        self._truth: dict[str, frozenset[int]] = {}
        self._classes: dict[tuple[str, tuple[str, ...]], list[tuple[int, Any]]] = {}
        self._needs: dict[str, index.Requirements] = {}
        districts = ruleset.catalogue.districts
        self.all_districts = frozenset(districts)
        self.owner = {d.unit(s): name for name, d in districts.items() for s in d.sections}

    def _analyse(self, rule: Rule) -> Signs:
        signs: Signs = {}
        for leaf, sign in condition_tree.leaves(rule.when):
            ident = f"{dimension(leaf)}:{leaf.key}:{leaf.written}"
            if ident not in self.atoms:
                self.atoms[ident] = Atom(ident, leaf, conditions.predicate(leaf))
            signs.setdefault(ident, set()).add(sign)
        return signs

    # --- which rules can match one report together ------------------------------------------

    def needs(self, rule: Rule) -> index.Requirements:
        """The rule's necessary conditions (see `index.requirements`), municipalities
        also as their districts."""
        if rule.id not in self._needs:
            ref = self.ruleset.reference
            found = dict(index.requirements(rule.when))
            if "municipality" in found:
                places = frozenset(ref.district_of(m) for m in found["municipality"])
                found["district"] = found.get("district", places) & places
            self._needs[rule.id] = found
        return self._needs[rule.id]

    def apart(self, a: index.Requirements, b: Rule, one_offence: bool = False) -> bool:
        """No report matches both: they need different values of a one-valued fact (or of
        the offence, when a report has one)."""
        other = self.needs(b)
        single = ("district", "municipality", "source", "quality", "offence")[
            : 5 if one_offence else 4
        ]
        return any(d in a and d in other and a[d].isdisjoint(other[d]) for d in single)

    # --- a rule's effect, as the engine has it ----------------------------------------------

    def decides(self, rule: Rule, facts: Facts) -> bool:
        """The rule matches and, being first, would decide the unit (engine `_unit`)."""
        if not rule.test(facts):
            return False
        if rule.unit is not None or facts.district is None:
            return True
        return rule.section in self.ruleset.catalogue.districts[facts.district].sections

    def target(self, rule: Rule, facts: Facts) -> str:
        if rule.unit is not None:
            return rule.unit
        if facts.district is None:
            return TRIAGE_UNIT
        return self.ruleset.catalogue.districts[facts.district].unit(str(rule.section))

    def district_sets(self, rules: Iterable[Rule]) -> list[frozenset[str]]:
        """District sets that change whether or where these rules send a report."""
        found: list[frozenset[str]] = []
        for rule in rules:
            if rule.section is not None:
                having = frozenset(
                    n
                    for n, d in self.ruleset.catalogue.districts.items()
                    if rule.section in d.sections
                )
                found += [having] if having != self.all_districts else []
            elif rule.unit is not None and rule.unit != TRIAGE_UNIT:
                found.append(frozenset({self.owner[rule.unit]}))
        return found

    # --- the atoms of one question ----------------------------------------------------------

    def idents(self, signs: Signs, dimension: str) -> list[str]:
        """The atoms of `signs` that read one dimension."""
        return [i for i in signs if self.atoms[i].dimension == dimension]

    def wanted(self, signs: Signs, dimension: str) -> int:
        """How many atoms of one dimension `signs` may need true."""
        return sum(True in signs[i] for i in self.idents(signs, dimension))

    # --- classes of offences, persons and places --------------------------------------------

    def truth(self, dimension: str, ident: str) -> frozenset[int]:
        """The elements (by index) that one atom, or one district set, holds for; an atom
        named `erased:<ident>` holds for a person when it holds with the age unknown."""
        if ident not in self._truth:
            elements = self.elements[dimension]
            if ident.startswith("districts:"):
                wanted = set(json.loads(ident.removeprefix("districts:")))
                held = {i for i, (_, d) in enumerate(elements) if d in wanted}
            elif ident.startswith(ERASED):
                test = self.atoms[ident.removeprefix(ERASED)].test
                held = {
                    i for i, e in enumerate(elements) if test(self._alone(dimension, erased(e)))
                }
            else:
                test = self.atoms[ident].test
                held = {i for i, e in enumerate(elements) if test(self._alone(dimension, e))}
            self._truth[ident] = frozenset(held)
        return self._truth[ident]

    @staticmethod
    def _alone(dimension: str, element: Any) -> Facts:
        if dimension == "place":
            return Facts(**{**BASE, "municipality": element[0], "district": element[1]})
        return Facts(**{**BASE, dimension: (element,)})

    def classes(self, dimension: str, idents: tuple[str, ...]) -> list[tuple[int, Any]]:
        """One element per class of elements the idents cannot tell apart, with its bits."""
        key = (dimension, idents)
        if key not in self._classes:
            truths = [self.truth(dimension, ident) for ident in idents]
            seen: dict[int, Any] = {}
            for i, element in enumerate(self.elements[dimension]):
                bits = sum(1 << j for j, held in enumerate(truths) if i in held)
                seen.setdefault(bits, element)
            self._classes[key] = list(seen.items())
        return self._classes[key]

    def sets(
        self, dimension: str, signs: Signs, depth: int, nonempty: bool
    ) -> list[tuple[Any, ...]]:
        """Sets of elements, one per reachable truth vector of the atoms, smallest first.

        Exact up to `depth` elements: a witness keeps one element per atom it needs true
        (atoms under no `not`, or under both); dropping the others can only falsify atoms
        the formula wants false, so no set larger than that count is ever needed.
        """
        idents = tuple(sorted(i for i in signs if self.atoms[i].dimension == dimension))
        classes = self.classes(dimension, idents)
        wanted = sum(1 << j for j, i in enumerate(idents) if True in signs[i])
        useful = [(bits, e) for bits, e in classes if bits & wanted]
        reach: dict[int, tuple[Any, ...]] = (
            {bits: (e,) for bits, e in classes} if nonempty else {0: ()}
        )
        frontier = dict(reach)
        for _ in range(depth - nonempty):
            grown: dict[int, tuple[Any, ...]] = {}
            for bits, members in frontier.items():
                for more, e in useful:
                    union = bits | more
                    if union not in reach and union not in grown:
                        grown[union] = (*members, e)
            reach.update(grown)
            frontier = grown
            if len(reach) > BUDGET:
                break  # `dimensions` asks again with fewer elements
        return list(reach.values())
