"""The work list's entry for a case the rules sent to triage: why it waits for a person."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from schemas.decision import TRIAGE_UNIT, Decision
from services.common.rules.ruleset import RuleSet


@dataclass(frozen=True, slots=True)
class WorkEntry:
    """A report waiting for a person, as the work list records it: `reason` is the fixed
    code of why (`no_district`, `quality_issues`, `rule`), `detail` the id of the rule that
    sent it to triage for `rule` (None otherwise, or when no rule of the rule set in use
    names triage any more), `district` the district's slug (`oslo`; the decision names it
    as the catalogue does, `Oslo`), None without one. No free text: all are codes."""

    report_id: uuid.UUID
    reason: str
    detail: str | None = None
    district: str | None = None


def triage_rule(decision: Decision, ruleset: RuleSet) -> str | None:
    """The rule that set the unit to triage: the first of the decision's matched rules that
    names the triage unit (the engine's first unit-naming match decides the unit, and any
    match before it that named another unit would have decided otherwise). None when no
    matched rule of `ruleset` names triage (a rule set reloaded since the decision)."""
    to_triage = {rule.id for rule in ruleset.rules if rule.unit == TRIAGE_UNIT}
    return next((rule for rule in decision.matched_rules if rule in to_triage), None)


def work_entry(decision: Decision, reason: str | None, ruleset: RuleSet) -> WorkEntry | None:
    """The entry of a decision whose triage case a queue confirmed, with `reason` the code
    `handler.triage_reason` gives it; None for a decision that did not go to triage."""
    if reason is None or decision.unit != TRIAGE_UNIT:
        return None
    detail = triage_rule(decision, ruleset) if reason == "rule" else None
    home = ruleset.catalogue.districts.get(decision.district or "")
    return WorkEntry(decision.report_id, reason, detail, home.slug if home else None)
