"""A person's case, built from the rules' view (pure): the decision it carries with who
decided, the unit's district, why a report the rules keep in triage waits, and checks of a
unit named by a person."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from schemas.caseevents import CaseEventKind
from schemas.decision import TRIAGE_UNIT, Deadline, DecidedBy, Decision, Priority
from services.common.rules.reading import nearest
from services.common.rules.ruleset import RuleSet
from services.common.text import quoted
from services.intake.people import Person
from services.intake.triage.disposition_model import Case, invalid_field
from services.intake.triage.rulebook import RuleBook

# A deadline a person set instead of the rules' (the reason is in `decided_by`).
PERSON_DEADLINE = "person"


def district_slug(ruleset: RuleSet, name: str | None) -> str | None:
    """The slug (`oslo`) of a police district named as the rules name it (`Oslo`)."""
    district = ruleset.catalogue.districts.get(name) if name else None
    return district.slug if district else None


def unit_district(ruleset: RuleSet, unit: str) -> str | None:
    """The slug of the district a unit belongs to; None for a national unit."""
    district = ruleset.catalogue.district_of_unit(unit)
    return district.slug if district else None


def known_unit(book: RuleBook, unit: str, path: str) -> str:
    """`unit` when the catalogue has it; else 422 naming `path` with the nearest names."""
    if book.unit_exists(unit):
        return unit
    close = book.nearest_units(unit)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise invalid_field(path, f"{quoted(unit)} is not a unit of the catalogue{hint}")


def district_of_slug(ruleset: RuleSet, slug: str, path: str) -> str:
    """`slug` when it is a district's; else 422 naming `path` with the nearest slugs."""
    slugs = [d.slug for d in ruleset.catalogue.districts.values()]
    if slug in slugs:
        return slug
    close = nearest(slug, slugs)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise invalid_field(path, f"{quoted(slug)} is not a police district's slug{hint}")


def waiting_reason(ruleset: RuleSet, decision: Decision, quality_issues: bool) -> dict[str, object]:
    """Why a report the rules send to triage waits (work_items reason, detail, district,
    priority, rank, deadline): no district, quality issues, or the rule that sent it."""
    district = district_slug(ruleset, decision.district)
    detail = None
    if decision.district is None:
        reason = "no_district"
    elif quality_issues:
        reason = "quality_issues"
    else:
        reason = "rule"
        # The first matched rule naming triage set the unit (as the router records it).
        to_triage = {rule.id for rule in ruleset.rules if rule.unit == TRIAGE_UNIT}
        detail = next((m for m in decision.matched_rules if m in to_triage), None)
    return {
        "reason": reason,
        "detail": detail,
        "district": district,
        **urgency(decision.priority, decision.deadline),
    }


def urgency(priority: Priority, deadline: Deadline | None) -> dict[str, object]:
    """The work item's priority, its rank and deadline."""
    return {
        "priority": priority.value,
        "priority_rank": priority.rank,
        "deadline_at": deadline.due_at if deadline else None,
    }


def person_deadline(due_at: dt.datetime, replaces: Deadline | None) -> Deadline:
    """A deadline a person set, with no legal basis of the rules' (their reason says why).
    It is met by what met the rules' deadline it `replaces` (the same duty, moved: custody
    still ends at court or release) and runs from the same moment; with no rules' deadline,
    by the unit's decision of the case (`prosecution_decision` or `closed`), so that every
    deadline a case carries can be met, met late or missed."""
    met_by = (
        replaces.met_by if replaces else [CaseEventKind.PROSECUTION_DECISION, CaseEventKind.CLOSED]
    )
    return Deadline(
        due_at=due_at.astimezone(dt.UTC),
        basis="set by the person who decided (see the reason)",
        rule_id=PERSON_DEADLINE,
        met_by=list(met_by),
        moment=replaces.moment if replaces else None,
        counted_from=replaces.counted_from if replaces else None,
    )


def case(
    ruleset: RuleSet,
    rules: Decision,
    *,
    unit: str,
    person: Person,
    act: str,
    act_id: uuid.UUID,
    version: int,
    source_format: str,
    now: dt.datetime,
    reason: str | None,
    priority: Priority | None = None,
    deadline: Deadline | None = None,
    linked_to: uuid.UUID | None = None,
) -> Case:
    """The case a person's act sends to `unit`: the rules' decision (`rules`: their unit
    suggestion, matched rules, ruleset version stay as they were) with the unit, the
    priority and deadline (the rules' unless given), its AMQP priority as the rule set maps
    it, and `decided_by` (who, in which role, which act, why, which report version)."""
    if unit == TRIAGE_UNIT:
        raise invalid_field("$.unit", "a case goes to a unit, not back to triage")
    level = priority or rules.priority
    decision = msgspec.structs.replace(
        rules,
        unit=unit,
        priority=level,
        amqp_priority=ruleset.amqp_priorities[level],
        deadline=deadline or rules.deadline,
        decided_at=now,
        decided_by=DecidedBy(
            subject=person.subject,
            role=person.acting_role,
            act=act,
            act_id=act_id,
            reason=reason,
            report_version=version,
            linked_to=linked_to,
        ),
    )
    return Case(decision, version, unit_district(ruleset, unit), source_format)


def case_summary(case: Case) -> dict[str, object]:
    """What an answer says of a case sent: its id, unit, priority and deadline."""
    deadline = case.decision.deadline
    return {
        "decision_id": str(case.id),
        "unit": case.decision.unit,
        "priority": case.decision.priority.value,
        "deadline_at": deadline.due_at.isoformat() if deadline else None,
    }
