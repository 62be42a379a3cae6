"""The lint's finite model of the facts rules can tell apart, and a search over it."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from schemas.decision import TRIAGE_UNIT
from schemas.report import Role
from services.routing import conditions, index
from services.routing.condition_tree import FlagSet, Leaf, Member, Older, Person, leaves
from services.routing.conditions import Facts, PersonFacts
from services.routing.reading import Duration
from services.routing.rules import Rule, RuleSet

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# Facts combinations one question may try; beyond it the search is bounded and says so.
BUDGET = 20_000
_DIMENSION = {
    "offence": "offences",
    "person": "persons",
    "municipality": "place",
    "district": "place",
    "source": "source",
    "flag": "flags",
    "flags": "flags",
    "quality_issues": "quality",
    "incident_older_than": "incident_at",
    "report_older_than": "reported_at",
}
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
        return _DIMENSION[self.leaf.key]


class Choice(NamedTuple):
    """One value of one dimension of the facts, and how a witness report describes it."""

    fields: dict[str, Any]
    head: str | None = None
    tail: tuple[str, ...] = ()


class Answer(NamedTuple):
    """A witness report for a question (None: there is none), and the search's bound."""

    facts: Facts | None
    witness: str
    bound: str | None


@dataclass
class Question:
    """Is there a report for which `holds` is true? `signs` are the atoms it reads."""

    holds: Callable[[Facts], bool]
    signs: Signs
    districts: list[frozenset[str]] = field(default_factory=list)
    max_offences: int | None = None


# --- atoms ----------------------------------------------------------------------------------


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


def _ages(attribute: str, limits: Sequence[Duration]) -> list[Choice]:
    """One elapsed time per interval between the thresholds `older_than` compares with,
    each threshold in words as the rule wrote it (the first rule to, where two agree)."""
    what = "incident" if attribute == "incident_at" else "report"
    words: dict[dt.timedelta, str] = {}
    for limit in limits:
        words.setdefault(limit.delta, str(limit))
    bounds = sorted(words)
    first = f"the {what} at most {words[bounds[0]]} old"
    choices = [Choice({attribute: NOW}, tail=(first,))]
    for low, high in itertools.pairwise(bounds):
        between = f"the {what} more than {words[low]} but at most {words[high]} old"
        choices.append(Choice({attribute: NOW - high}, tail=(between,)))
    last = f"the {what} more than {words[bounds[-1]]} old"
    choices.append(Choice({attribute: NOW - bounds[-1] - dt.timedelta(days=1)}, tail=(last,)))
    return choices


def _offence_words(members: Sequence[Offence]) -> str:
    names = [code or "one with no known code" for code, _, _ in members]
    if names == ["one with no known code"]:
        return "an offence with no known code"
    if len(names) == 1:
        return f"offence {names[0]}"
    return f"offences {', '.join(names[:-1])} and {names[-1]}"


def person_words(p: PersonFacts, ages: bool) -> str:
    age = "" if not ages else " of unknown age" if p.age is None else f" aged {p.age}"
    return f"{'an arrested' if p.arrested else 'a'} {p.role}{age}"


def _asks_age(leaf: Leaf) -> bool:
    """Whether a person condition tells ages apart (then a witness says each person's age)."""
    return isinstance(leaf, Person) and not (
        leaf.age_under is None and leaf.age_at_least is None and leaf.age_known is None
    )


def _subsets(names: Sequence[str]) -> Iterator[tuple[str, ...]]:
    for size in range(len(names) + 1):
        yield from itertools.combinations(names, size)


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
        for leaf, sign in leaves(rule.when):
            ident = f"{_DIMENSION[leaf.key]}:{leaf.key}:{leaf.written}"
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

    # --- the dimensions of one question -----------------------------------------------------

    def tells_places(self, q: Question) -> bool:
        return bool(q.districts or self._idents(q.signs, "place"))

    def _idents(self, signs: Signs, dimension: str) -> list[str]:
        return [i for i in signs if self.atoms[i].dimension == dimension]

    def _wanted(self, signs: Signs, dimension: str) -> int:
        return sum(True in signs[i] for i in self._idents(signs, dimension))

    def offences(self, signs: Signs, depth: int) -> list[Choice]:
        # A report has at least one offence: the search never offers none.
        return [
            Choice({"offences": members}, head=_offence_words(members))
            for members in self.sets("offences", signs, depth, nonempty=True)
        ]

    def persons(self, signs: Signs, depth: int) -> list[Choice]:
        idents = self._idents(signs, "persons")
        ages = any(_asks_age(self.atoms[i].leaf) for i in idents)
        return [
            Choice({"persons": members}, tail=tuple(person_words(p, ages) for p in members))
            for members in self.sets("persons", signs, depth, nonempty=False)
        ]

    def places(self, signs: Signs, districts: list[frozenset[str]]) -> list[Choice]:
        idents = self._idents(signs, "place")
        if not idents and not districts:
            first = self.elements["place"][0]
            return [Choice({"municipality": first[0], "district": first[1]})]
        # all districts as a set of its own, so that no district differs from any district
        sets = [*districts, self.all_districts]
        extra = ["districts:" + json.dumps(sorted(s), ensure_ascii=False) for s in sets]
        by_municipality = any(self.atoms[i].key == "municipality" for i in idents)
        return [
            Choice(
                {"municipality": m, "district": d}, tail=(self._place_words(m, d, by_municipality),)
            )
            for _, (m, d) in self.classes("place", tuple(sorted({*idents, *extra})))
        ]

    def _place_words(self, municipality: str | None, district: str | None, exact: bool) -> str:
        if municipality is None:
            return "no known municipality"
        if exact:
            name = self.ruleset.reference.municipalities[municipality].name
            return f"municipality {municipality} {name}"
        return f"a municipality in {district}"

    def scalars(self, signs: Signs) -> list[list[Choice]]:
        """Source, flags, quality and the two ages: the values that tell the atoms apart."""
        found: dict[str, list[Atom]] = {}
        for ident in signs:
            found.setdefault(self.atoms[ident].dimension, []).append(self.atoms[ident])
        dimensions = []
        if "source" in found:
            dimensions.append(self._sources(found["source"]))
        if "flags" in found:
            dimensions.append(self._flags([a for a in found["flags"] if True in signs[a.ident]]))
        if "quality" in found:
            dimensions.append(
                [
                    Choice({"quality_issues": False}),
                    Choice({"quality_issues": True}, tail=("quality issues",)),
                ]
            )
        for attribute in ("incident_at", "reported_at"):
            if attribute in found:
                limits = [a.leaf.limit for a in found[attribute] if isinstance(a.leaf, Older)]
                dimensions.append(_ages(attribute, limits))
        return dimensions

    def _sources(self, atoms: list[Atom]) -> list[Choice]:
        named = sorted({s for a in atoms if isinstance(a.leaf, Member) for s in a.leaf.values})
        other = "other"
        while other in named:
            other += "-other"
        choices = [Choice({"source": s}, tail=(f"source {s}",)) for s in named]
        return [*choices, Choice({"source": other}, tail=("another source",))]

    def _flags(self, atoms: list[Atom]) -> list[Choice]:
        # flag conditions only ask for flags to be set: a witness sets none it does not need
        names = sorted({f for a in atoms if isinstance(a.leaf, FlagSet) for f in a.leaf.names})
        return [
            Choice(
                {"flags": frozenset(chosen)},
                tail=(f"flag{'s' if len(chosen) > 1 else ''} {', '.join(chosen)}",)
                if chosen
                else (),
            )
            for chosen in _subsets(names)
        ]

    # --- the search -------------------------------------------------------------------------

    def dimensions(self, q: Question) -> tuple[list[list[Choice]], str | None]:
        """Every dimension's choices; fewer offences or persons, and said so, if too many."""
        exact_offences = max(1, self._wanted(q.signs, "offences"))
        offences = min(exact_offences, q.max_offences or exact_offences)
        persons = self._wanted(q.signs, "persons")
        fixed = [self.places(q.signs, q.districts), *self.scalars(q.signs)]
        bounded = False
        while True:
            dims = [self.offences(q.signs, offences), self.persons(q.signs, persons), *fixed]
            size = product_size(dims)
            if size <= BUDGET or (offences <= 1 and persons <= 1):
                break
            bounded = True
            if offences >= persons:
                offences -= 1
            else:
                persons -= 1
        if size > BUDGET:
            return dims, f"searched only {BUDGET} of {size} kinds of report"
        if bounded:
            most = f"{_count(offences, 'offence')} and {_count(persons, 'person')}"
            return dims, f"searched only reports with at most {most}"
        return dims, None

    def ask(self, q: Question) -> Answer:
        """The first (simplest) report for which the question holds, if any."""
        dims, bound = self.dimensions(q)
        for combo in itertools.islice(itertools.product(*dims), BUDGET):
            fields = {**BASE}
            for choice in combo:
                fields.update(choice.fields)
            facts = Facts(**fields)
            if q.holds(facts):
                return Answer(facts, describe(combo), bound)
        return Answer(None, "", bound)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def product_size(dims: list[list[Choice]]) -> int:
    size = 1
    for dim in dims:
        size *= len(dim)
    return size


def describe(combo: Sequence[Choice]) -> str:
    head = next((c.head for c in combo if c.head), "a report")
    tail = [words for c in combo for words in c.tail]
    if len(tail) > 1:
        tail = [", ".join(tail[:-1]) + " and " + tail[-1]]
    return head + (f" with {tail[0]}" if tail else "")
