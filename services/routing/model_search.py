"""The search over the lint's finite model: each dimension's choices in words, and the
simplest report a question holds for."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from services.common.rules.condition_tree import FlagSet, Leaf, Member, Older, Person
from services.common.rules.conditions import Facts, PersonFacts
from services.common.rules.reading import Duration
from services.routing import model as finite
from services.routing.model import BASE, NOW, Atom, Model, Offence, Signs


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


# --- each dimension's choices ---------------------------------------------------------------


def offences(model: Model, signs: Signs, depth: int) -> list[Choice]:
    # A report has at least one offence: the search never offers none.
    return [
        Choice({"offences": members}, head=_offence_words(members))
        for members in model.sets("offences", signs, depth, nonempty=True)
    ]


def persons(model: Model, signs: Signs, depth: int) -> list[Choice]:
    ages = any(_asks_age(model.atoms[i].leaf) for i in model.idents(signs, "persons"))
    return [
        Choice({"persons": members}, tail=tuple(person_words(p, ages) for p in members))
        for members in model.sets("persons", signs, depth, nonempty=False)
    ]


def places(model: Model, signs: Signs, districts: list[frozenset[str]]) -> list[Choice]:
    idents = model.idents(signs, "place")
    if not idents and not districts:
        first = model.elements["place"][0]
        return [Choice({"municipality": first[0], "district": first[1]})]
    # all districts as a set of its own, so that no district differs from any district
    sets = [*districts, model.all_districts]
    extra = ["districts:" + json.dumps(sorted(s), ensure_ascii=False) for s in sets]
    exact = any(model.atoms[i].key == "municipality" for i in idents)
    return [
        Choice({"municipality": m, "district": d}, tail=(_place_words(model, m, d, exact),))
        for _, (m, d) in model.classes("place", tuple(sorted({*idents, *extra})))
    ]


def scalars(model: Model, signs: Signs) -> list[list[Choice]]:
    """Source, flags, quality and the two ages: the values that tell the atoms apart."""
    found: dict[str, list[Atom]] = {}
    for ident in signs:
        found.setdefault(model.atoms[ident].dimension, []).append(model.atoms[ident])
    dimensions = []
    if "source" in found:
        dimensions.append(_sources(found["source"]))
    if "flags" in found:
        dimensions.append(_flags([a for a in found["flags"] if True in signs[a.ident]]))
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


def _sources(atoms: list[Atom]) -> list[Choice]:
    named = sorted({s for a in atoms if isinstance(a.leaf, Member) for s in a.leaf.values})
    other = "other"
    while other in named:
        other += "-other"
    choices = [Choice({"source": s}, tail=(f"source {s}",)) for s in named]
    return [*choices, Choice({"source": other}, tail=("another source",))]


def _flags(atoms: list[Atom]) -> list[Choice]:
    # flag conditions only ask for flags to be set: a witness sets none it does not need
    names = sorted({f for a in atoms if isinstance(a.leaf, FlagSet) for f in a.leaf.names})
    return [
        Choice(
            {"flags": frozenset(chosen)},
            tail=(f"flag{'s' if len(chosen) > 1 else ''} {', '.join(chosen)}",) if chosen else (),
        )
        for chosen in _subsets(names)
    ]


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


def _subsets(names: Sequence[str]) -> Iterator[tuple[str, ...]]:
    for size in range(len(names) + 1):
        yield from itertools.combinations(names, size)


# --- words ----------------------------------------------------------------------------------


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


def _place_words(model: Model, municipality: str | None, district: str | None, exact: bool) -> str:
    if municipality is None:
        return "no known municipality"
    if exact:
        name = model.ruleset.reference.municipalities[municipality].name
        return f"municipality {municipality} {name}"
    return f"a municipality in {district}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def describe(combo: Sequence[Choice]) -> str:
    head = next((c.head for c in combo if c.head), "a report")
    tail = [words for c in combo for words in c.tail]
    if len(tail) > 1:
        tail = [", ".join(tail[:-1]) + " and " + tail[-1]]
    return head + (f" with {tail[0]}" if tail else "")


# --- the search -----------------------------------------------------------------------------


def tells_places(model: Model, q: Question) -> bool:
    return bool(q.districts or model.idents(q.signs, "place"))


def product_size(dims: list[list[Choice]]) -> int:
    size = 1
    for dim in dims:
        size *= len(dim)
    return size


def dimensions(model: Model, q: Question) -> tuple[list[list[Choice]], str | None]:
    """Every dimension's choices; fewer offences or persons, and said so, if too many."""
    budget = finite.BUDGET
    exact_offences = max(1, model.wanted(q.signs, "offences"))
    most_offences = min(exact_offences, q.max_offences or exact_offences)
    most_persons = model.wanted(q.signs, "persons")
    fixed = [places(model, q.signs, q.districts), *scalars(model, q.signs)]
    bounded = False
    while True:
        dims = [
            offences(model, q.signs, most_offences),
            persons(model, q.signs, most_persons),
            *fixed,
        ]
        size = product_size(dims)
        if size <= budget or (most_offences <= 1 and most_persons <= 1):
            break
        bounded = True
        if most_offences >= most_persons:
            most_offences -= 1
        else:
            most_persons -= 1
    if size > budget:
        return dims, f"searched only {budget} of {size} kinds of report"
    if bounded:
        most = f"{_count(most_offences, 'offence')} and {_count(most_persons, 'person')}"
        return dims, f"searched only reports with at most {most}"
    return dims, None


def ask(model: Model, q: Question) -> Answer:
    """The first (simplest) report for which the question holds, if any."""
    dims, bound = dimensions(model, q)
    for combo in itertools.islice(itertools.product(*dims), finite.BUDGET):
        fields = {**BASE}
        for choice in combo:
            fields.update(choice.fields)
        facts = Facts(**fields)
        if q.holds(facts):
            return Answer(facts, describe(combo), bound)
    return Answer(None, "", bound)
