"""The decision: a pure function of a standardised report, a compiled rule set and a time.

Hit policy: rules are evaluated in order and every matching rule is recorded. The first
matching rule that names a unit (or section) decides the unit; the priority is the highest
among the offences' default priorities and all matching rules; the deadline is the earliest
among all matching rules (the first of them on a tie), carrying that rule's `met_by` and
moment: the events that meet the earliest deadline are the ones the case is held to. With
no unit rule matching, the report goes to its district's default section, the district
found by municipality; with no district it goes to triage.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import msgspec

from schemas.decision import TRIAGE_UNIT, Deadline, Decision, Priority
from schemas.reference import Reference
from schemas.report import Flags, Report
from services.common.rules.conditions import Facts, PersonFacts
from services.common.rules.ruleset import Rule, RuleSet

FLAG_NAMES = Flags.__struct_fields__


class _OffenceView(msgspec.Struct):
    code: str | None = None


class _PersonView(msgspec.Struct):
    role: str  # already checked when stored; a plain string decodes faster
    arrested_at: dt.datetime | None = None
    age_at_incident: int | None = None


class _IncidentView(msgspec.Struct):
    occurred_from: dt.datetime
    municipality: str | None = None


class _QualityView(msgspec.Struct):
    code: str


class RoutingView(msgspec.Struct):
    """The part of an already checked report (stored, or in the very message the intake
    published) that decisions read; decoding only this skips the free text, so routing and
    replaying many reports are cheap."""

    source: str
    reported_at: dt.datetime
    incident: _IncidentView
    offences: list[_OffenceView]
    persons: list[_PersonView] = []
    flags: Flags = msgspec.field(default_factory=Flags)
    quality_issues: list[_QualityView] = []


Routable = Report | RoutingView


def facts_of(report: Routable, reference: Reference, now: dt.datetime) -> Facts:
    """What the rules look at, computed once."""
    known = reference.offences
    offences = []
    for offence in report.offences:
        entry = known.get(offence.code) if offence.code else None
        offences.append(
            (offence.code, entry.law, entry.ssb_group) if entry else (offence.code, None, None)
        )
    incident = report.incident
    return Facts(
        offences=tuple(offences),
        municipality=incident.municipality,
        district=reference.district_of(incident.municipality),
        source=report.source,
        persons=tuple(
            # A Role is a str (StrEnum): compared and hashed as its value, no lookup needed.
            PersonFacts(p.role, p.age_at_incident, p.arrested_at is not None)
            for p in report.persons
        ),
        flags=frozenset(itertools.compress(FLAG_NAMES, msgspec.structs.astuple(report.flags))),
        quality_issues=bool(report.quality_issues),
        incident_at=incident.occurred_from,
        reported_at=report.reported_at,
        now=now,
    )


_RANK = {p: p.rank for p in Priority}


def _base_priority(facts: Facts, reference: Reference) -> Priority:
    best = None
    for code in facts.codes:
        entry = reference.offences.get(code)
        if entry is not None and (best is None or _RANK[entry.default_priority] > _RANK[best]):
            best = entry.default_priority
    return best or Priority.NORMAL


def _moment(report: Routable, name: str) -> dt.datetime | None:
    if name == "report":
        return report.reported_at
    if name == "incident":
        return report.incident.occurred_from
    arrests = [p.arrested_at for p in report.persons if p.arrested_at is not None]
    return min(arrests) if arrests else None


def _deadline(report: Routable, rules: list[Rule]) -> Deadline | None:
    best: Deadline | None = None
    for rule in rules:
        if rule.deadline is None:
            continue
        start = _moment(report, rule.deadline.moment)
        if start is None:
            continue
        due = start + rule.deadline.after
        if best is None or due < best.due_at:
            best = Deadline(
                due_at=due,
                basis=rule.deadline.basis,
                rule_id=rule.id,
                met_by=list(rule.deadline.met_by),
                moment=rule.deadline.moment,
                counted_from=start,
            )
    return best


def _unit(rules: list[Rule], ruleset: RuleSet, district: str | None) -> tuple[str, list[str]]:
    for rule in rules:
        if rule.unit is not None:
            return rule.unit, []
        if rule.section is not None:
            if district is None:
                return TRIAGE_UNIT, [f"rule {rule.id} names a section but the district is unknown"]
            home = ruleset.catalogue.districts[district]
            if rule.section in home.sections:
                return home.unit(rule.section), []
    if district is None:
        return TRIAGE_UNIT, ["no police district: municipality unknown or missing"]
    home = ruleset.catalogue.districts[district]
    return home.unit(home.default), []


def decide(report: Routable, report_id: uuid.UUID, ruleset: RuleSet, now: dt.datetime) -> Decision:
    """The routing decision for one standardised report."""
    facts = facts_of(report, ruleset.reference, now)
    matched = [rule for rule in ruleset.index.candidates(facts) if rule.test(facts)]
    unit, reasons = _unit(matched, ruleset, facts.district)
    if unit == TRIAGE_UNIT and report.quality_issues:
        reasons = [*reasons, *sorted({f"quality issue {q.code}" for q in report.quality_issues})]
    priority = _base_priority(facts, ruleset.reference)
    for rule in matched:
        if rule.priority is not None and _RANK[rule.priority] > _RANK[priority]:
            priority = rule.priority
    return Decision(
        report_id=report_id,
        unit=unit,
        priority=priority,
        amqp_priority=ruleset.amqp_priorities[priority],
        ruleset_version=ruleset.version,
        decided_at=now,
        district=facts.district,
        deadline=_deadline(report, matched),
        matched_rules=[r.id for r in matched],
        triage_reasons=reasons,
    )
