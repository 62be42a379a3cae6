"""Deadline lint: a rule whose legal deadline is lost when a report lacks a fact or an arrest.

A legal deadline holds whether or not a report says everything: a suspect arrested without
an identity number still has the custody deadline of strpl. § 183. For every deadline rule
and every optional fact (a person's age; the municipality, and with it the district), the
lint looks over the finite model of `model.Model` for a report the rule gives its deadline
where the same report with the fact missing gets no deadline from the same moment due no
later and met by no other events (`met_by`: an event that would not meet the rule's own
deadline must not meet the one standing in for it). The intake may add a quality issue
where a fact is missing (`person.age_unknown`), so the report with the fact missing is
tried both with and without one.

A deadline `from: arrest` runs from the earliest arrest of a person in the report: a rule
with one whose condition holds for a report in which nobody is arrested matches and gives
no deadline, silently. The lint looks for such a report too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import msgspec

from services.common.rules.conditions import Facts
from services.common.rules.ruleset import Rule
from services.routing import model as finite
from services.routing import model_search as search
from services.routing.model import ERASED, Finding, Model, Signs, erased, flip, merge
from services.routing.model_search import Choice, Question, describe, person_words


@dataclass(frozen=True, slots=True)
class Missing:
    """What a report lacking the fact looks like; `why` says which is missing."""

    variants: Callable[[Facts], Iterator[tuple[Facts, str]]]
    dimension: str  # the model's dimension that holds the fact


def _without_age(f: Facts) -> Iterator[tuple[Facts, str]]:
    for i, person in enumerate(f.persons):
        if person.age is None:
            continue
        persons = (*f.persons[:i], erased(person), *f.persons[i + 1 :])
        why = f"the age of {person_words(person, False)} unknown"
        yield msgspec.structs.replace(f, persons=persons), why
        if not f.quality_issues:
            flagged = msgspec.structs.replace(f, persons=persons, quality_issues=True)
            yield flagged, why + " (and a quality issue saying so)"


def _without_place(f: Facts) -> Iterator[tuple[Facts, str]]:
    if f.municipality is None:
        return
    yield msgspec.structs.replace(f, municipality=None, district=None), "no municipality"
    if not f.quality_issues:
        flagged = msgspec.structs.replace(f, municipality=None, district=None, quality_issues=True)
        yield flagged, "no municipality (and a quality issue saying so)"


FACTS = {
    "a person's age": Missing(_without_age, "persons"),
    "the municipality": Missing(_without_place, "place"),
}


def lost_deadlines(model: Model) -> list[Finding]:
    """A warning for every deadline rule and optional fact where a report loses the
    deadline when the fact is missing, and for every deadline from an arrest that a report
    without one matches; a note where the search was bounded."""
    rules = [r for r in model.ruleset.rules if r.deadline is not None]
    findings = []
    for rule in rules:
        assert rule.deadline is not None
        if rule.deadline.moment == "arrest":
            findings += _without_arrest(model, rule)
        # A deadline stands in for another only if no event meets it that would not meet
        # the other: else a case could count as met when the legal deadline was not.
        covering = [
            d
            for d in rules
            if d.deadline is not None
            and d.deadline.moment == rule.deadline.moment
            and d.deadline.after <= rule.deadline.after
            and set(d.deadline.met_by) <= set(rule.deadline.met_by)
        ]
        for fact, missing in FACTS.items():
            read = {model.atoms[i].dimension for i in model.signs[rule.id]}
            if not read & {missing.dimension, "quality"}:
                continue  # the rule itself still holds with the fact missing
            findings += _ask(model, rule, covering, fact, missing)
    return findings


def _without_arrest(model: Model, rule: Rule) -> list[Finding]:
    """A warning if a report in which nobody is arrested matches a deadline rule `from:
    arrest` (the engine then has no moment to count from, and gives no deadline)."""

    def unarrested(f: Facts) -> bool:
        return rule.test(f) and not any(p.arrested for p in f.persons)

    # The model's person of each class is unarrested where the class has one such person,
    # so the search over the rule's own atoms is exact for this question too.
    answer = search.ask(model, Question(unarrested, model.signs[rule.id]))
    assert rule.deadline is not None
    where = f"{model.ruleset.file}:{rule.line}: rule {rule.id}"
    if answer.facts is not None:
        text = (
            f"{where} gives a deadline ({rule.deadline.written} from the arrest) that a "
            f"report with no arrested person does not get: {answer.witness} matches the rule "
            "and gets no deadline from it (a deadline from the arrest needs `arrested: true` "
            "in a `person` condition that must hold)"
        )
        return [Finding("warning", text)]
    if answer.bound:
        text = f"{where}: no report found that matches it with nobody arrested ({answer.bound})"
        return [Finding("note", text)]
    return []


def _ask(
    model: Model, rule: Rule, covering: Sequence[Rule], fact: str, missing: Missing
) -> list[Finding]:
    def uncovered(f: Facts) -> str | None:
        for variant, why in missing.variants(f):
            if not any(d.test(variant) for d in covering):
                return why
        return None

    signs = merge([model.signs[rule.id], *(flip(model.signs[d.id]) for d in covering)])
    ghosts = merge([model.signs[d.id] for d in covering]) if missing.dimension == "persons" else {}
    dims, bound = _dimensions(model, signs, ghosts, model.wanted(model.signs[rule.id], "persons"))
    assert rule.deadline is not None
    where = f"{model.ruleset.file}:{rule.line}: rule {rule.id}"
    deadline = f"{rule.deadline.written} from the {rule.deadline.moment}"
    for combo in itertools.islice(itertools.product(*dims), finite.BUDGET):
        fields = {**finite.BASE}
        for choice in combo:
            fields.update(choice.fields)
        facts = Facts(**fields)
        if rule.test(facts) and (why := uncovered(facts)) is not None:
            text = (
                f"{where} gives a deadline ({deadline}) that is lost when {fact} is missing: "
                f"{describe(combo)} gets it, but with {why} no rule gives a deadline from "
                f"the {rule.deadline.moment} within {rule.deadline.written} met only by "
                f"{_events(rule)}"
            )
            return [Finding("warning", text)]
    if bound:
        text = f"{where}: no report found that loses its deadline without {fact} ({bound})"
        return [Finding("note", text)]
    return []


def _events(rule: Rule) -> str:
    """The events that meet a rule's deadline, in words: `a`, `a or b`, `a, b or c`."""
    assert rule.deadline is not None
    names = [f"`{k}`" for k in rule.deadline.met_by]
    return " or ".join([", ".join(names[:-1]), names[-1]] if names[:-1] else names)


def _dimensions(
    model: Model, signs: Signs, ghosts: Signs, wanted: int
) -> tuple[list[list[Choice]], str | None]:
    """The choices of each dimension, and the bound if the search had to be narrowed.

    Persons: with `ghosts` (the age question), every set of up to `wanted` + the ghosts'
    negated atoms + 1 (the person whose age goes) persons, one per class of persons the
    atoms, also with the age erased, cannot tell apart: a smallest counterexample keeps one
    witness per atom that must hold, and the person whose age goes. Otherwise as `Model`.
    """
    fixed = [search.places(model, signs, []), *search.scalars(model, signs)]
    offences = max(1, model.wanted(signs, "offences"))
    if ghosts:
        idents = [i for i in signs if model.atoms[i].dimension == "persons"]
        idents += [ERASED + i for i in ghosts if model.atoms[i].dimension == "persons"]
        classes = [e for _, e in model.classes("persons", tuple(sorted(set(idents))))]
        most = wanted + model.wanted(flip(ghosts), "persons") + 1
    else:
        most = model.wanted(signs, "persons")
    bound = None
    while True:
        if ghosts:
            people = [
                Choice({"persons": group}, tail=tuple(person_words(p, True) for p in group))
                for n in range(1, most + 1)
                for group in itertools.combinations_with_replacement(classes, n)
            ]
        else:
            people = search.persons(model, signs, most)
        dims = [search.offences(model, signs, offences), people, *fixed]
        size = search.product_size(dims)
        if size <= finite.BUDGET or (most <= 1 and offences <= 1):
            break
        if most > 1:
            most -= 1
        else:
            offences -= 1
        bound = f"searched only reports with at most {most} persons and {offences} offences"
    if size > finite.BUDGET:
        bound = f"searched only {finite.BUDGET} of {size} kinds of report"
    return dims, bound
