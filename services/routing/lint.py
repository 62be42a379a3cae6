"""Rule lint: rules that match nothing, unit rules that never decide, unreached units, overlaps."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from services.common.rules.conditions import Facts
from services.common.rules.ruleset import Rule, RuleSet
from services.routing.deadline_lint import lost_deadlines
from services.routing.model import Finding, Model, flip, merge
from services.routing.model_search import Answer, Question, ask, tells_places

__all__ = ["Finding", "lint"]


# --- the lint -------------------------------------------------------------------------------


def lint(ruleset: RuleSet) -> list[Finding]:
    """Rules that match no report, unit rules that never decide, units nothing reaches,
    unit rules that overlap, and deadlines lost when a report lacks a fact or an arrest
    (`deadline_lint`)."""
    model = Model(ruleset)
    findings, never = _matching_nothing(model)
    unit_rules = [r for r in ruleset.rules if r.names_unit]
    lives: dict[str, Answer] = {}
    for i, rule in enumerate(unit_rules):
        if rule.id in never:
            continue  # said already: it matches nothing, so it decides nothing
        answer = ask(model, _first(model, rule, unit_rules[:i]))
        if answer.facts is None and answer.bound:
            lives[rule.id] = answer  # undecided: counted as reaching its unit, no overlaps
            text = f"{_where(model, rule)} may never decide the unit: no report found in which "
            findings.append(Finding("note", text + f"it decides first ({answer.bound})"))
        elif answer.facts is None:
            findings.append(Finding("warning", _dead(model, rule, unit_rules[:i])))
        else:
            lives[rule.id] = answer
    findings += _unreached(model, unit_rules, lives)
    findings += _overlaps(model, unit_rules, lives)
    findings += lost_deadlines(model)
    return findings


def _matching_nothing(model: Model) -> tuple[list[Finding], set[str]]:
    """A warning for each rule whose condition holds for no report of the model (which is
    exact: every offence, person and place is tried, and each time and source the rules
    tell apart), and the ids of those rules; a note where the search was bounded."""
    findings, never = [], set()
    for rule in model.ruleset.rules:
        answer = ask(model, Question(rule.test, model.signs[rule.id]))
        if answer.facts is not None:
            continue
        if answer.bound:
            text = f"{_where(model, rule)} may match no report: none found ({answer.bound})"
            findings.append(Finding("note", text))
            continue
        never.add(rule.id)
        findings.append(
            Finding("warning", f"{_where(model, rule)} matches no report: {_why(model, rule)}")
        )
    return findings, never


def _why(model: Model, rule: Rule) -> str:
    """Which condition of a rule that matches nothing holds for nothing alone, if one does."""
    for ident, polarities in model.signs[rule.id].items():
        atom = model.atoms[ident]
        alone = atom.dimension in model.elements and not model.truth(atom.dimension, ident)
        if polarities == {True} and alone:
            noun = {"offences": "offence", "persons": "person", "place": "place"}
            return f"`{atom.key}` (line {atom.line}) holds for no {noun[atom.dimension]}"
    return "its conditions never hold together"


def _where(model: Model, rule: Rule) -> str:
    return f"{model.ruleset.file}:{rule.line}: rule {rule.id}"


def _named(rule: Rule) -> str:
    return str(rule.section or rule.unit)


def _first(
    model: Model, rule: Rule, earlier: Sequence[Rule], district: str | None = None
) -> Question:
    """Does `rule` decide some report (in `district`) that no earlier unit rule decides?"""
    needs = model.needs(rule)
    if district is not None:
        needs = {**needs, "district": needs.get("district", frozenset({district})) & {district}}
    earlier = [e for e in earlier if not model.apart(needs, e)]

    def holds(f: Facts) -> bool:
        return (
            (district is None or f.district == district)
            and model.decides(rule, f)
            and not any(model.decides(e, f) for e in earlier)
        )

    signs = merge([model.signs[rule.id], *(flip(model.signs[e.id]) for e in earlier)])
    districts = model.district_sets([rule, *earlier])
    return Question(holds, signs, districts + ([frozenset({district})] if district else []))


def _dead(model: Model, rule: Rule, earlier: Sequence[Rule]) -> str:
    # drop the latest rules first, so that the rules named are the earliest that suffice
    cover = list(earlier)
    for candidate in reversed(earlier):
        trial = [e for e in cover if e is not candidate]
        if ask(model, _first(model, rule, trial)).facts is None:
            cover = trial
    where = f"{_where(model, rule)} can never decide the unit: "
    if not cover:
        matches = ask(model, Question(rule.test, model.signs[rule.id])).facts is not None
        reason = (
            f"it matches only where the district has no section {rule.section}"
            if matches
            else "no report matches it"
        )
    elif len(cover) == 1:
        reason = f"rule {cover[0].id} (line {cover[0].line}) always matches first"
    else:
        ids, lines = ", ".join(c.id for c in cover), ", ".join(str(c.line) for c in cover)
        reason = f"rules {ids} (lines {lines}) always match first"
    targets = {_named(c) for c in cover}
    others = sorted(targets - {_named(rule)})
    if others:
        verb = "sends" if len(cover) == 1 else "send"
        some = "some of " if _named(rule) in targets else ""
        elsewhere = " or ".join([", ".join(others[:-1]), others[-1]] if others[:-1] else others)
        reason += f" and {verb} {some}those reports to {elsewhere}, not {_named(rule)}"
    return where + reason


def _unreached(model: Model, unit_rules: Sequence[Rule], lives: dict[str, Answer]) -> list[Finding]:
    findings = []
    for section in model.ruleset.catalogue.section_names:
        units = {
            name: district.unit(section)
            for name, district in model.ruleset.catalogue.districts.items()
            if section in district.sections
        }
        missing = [
            u for n, u in units.items() if not _reaches(model, n, section, unit_rules, lives)
        ]
        if len(missing) == len(units):
            findings.append(
                Finding("warning", f"section {section} is reached by no rule and no default")
            )
        else:
            text = "unit {} is reached by no rule and no default"
            findings += [Finding("warning", text.format(u)) for u in missing]
    return findings


def _reaches(
    model: Model, district: str, section: str, unit_rules: Sequence[Rule], lives: dict[str, Answer]
) -> bool:
    home = model.ruleset.catalogue.districts[district]
    if home.default == section:
        return True
    for i, rule in enumerate(unit_rules):
        if rule.id not in lives or (rule.section != section and rule.unit != home.unit(section)):
            continue
        witness = lives[rule.id].facts
        if rule.unit is not None or witness is None or witness.district == district:
            return True
        # a question that tells no districts apart has the same answer in all of them
        if not tells_places(model, _first(model, rule, unit_rules[:i])):
            return True
        if ask(model, _first(model, rule, unit_rules[:i], district)).facts is not None:
            return True
    return False


def _overlaps(model: Model, unit_rules: Sequence[Rule], lives: dict[str, Answer]) -> list[Finding]:
    # Overlaps are looked for on reports with as many offences as the two rules need, not
    # more: with two offences any two offence rules overlap, and rule order settles that.
    need = {rid: len(a.facts.offences) for rid, a in lives.items() if a.facts is not None}
    alive = [(i, r) for i, r in enumerate(unit_rules) if r.id in need]
    findings = []
    for (i, first), (_, later) in itertools.combinations(alive, 2):
        if _named(first) == _named(later):
            continue
        offences = max(need[first.id], need[later.id])
        if model.apart(model.needs(first), later, offences == 1):
            continue
        answer = ask(model, _both(model, first, later, unit_rules[:i], offences))
        where = _where(model, later)
        if answer.facts is not None:
            text = (
                f"{where} overlaps rule {first.id} (line {first.line}) with a different unit: "
                f"{answer.witness} goes to {_named(first)}, not {_named(later)}"
            )
            findings.append(Finding("note", text))
        elif answer.bound:
            text = (
                f"{where} and rule {first.id} (line {first.line}): no overlap with a different "
                f"unit found ({answer.bound})"
            )
            findings.append(Finding("note", text))
    return findings


def _both(
    model: Model, first: Rule, later: Rule, before: Sequence[Rule], offences: int
) -> Question:
    """Is there a report that `first` decides and `later` would send elsewhere?"""
    one = offences == 1
    before = [
        e
        for e in before
        if not model.apart(model.needs(first), e, one)
        and not model.apart(model.needs(later), e, one)
    ]

    def holds(f: Facts) -> bool:
        return (
            model.decides(first, f)
            and model.decides(later, f)
            and model.target(first, f) != model.target(later, f)
            and not any(model.decides(e, f) for e in before)
        )

    signs = merge(
        [
            model.signs[first.id],
            model.signs[later.id],
            *map(flip, (model.signs[e.id] for e in before)),
        ]
    )
    return Question(holds, signs, model.district_sets([first, later, *before]), offences)
