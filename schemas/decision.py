"""The routing decision: where a report goes, how urgently, by when, and why."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

import msgspec

from schemas.caseevents import CaseEventKind

TRIAGE_UNIT = "triage"


class Priority(enum.StrEnum):
    """Named priority levels, most urgent first."""

    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Higher is more urgent."""
        return _RANK[self]


_RANK = {Priority.CRITICAL: 3, Priority.HIGH: 2, Priority.NORMAL: 1, Priority.LOW: 0}


class Deadline(msgspec.Struct, frozen=True):
    """A legal or internal deadline, with the rule and legal basis that set it.

    `met_by`: the case events (`CaseEventKind`) that meet it, as the rule names them (the
    earliest such event at the unit ends it, on time or late); a deadline a person set
    keeps those of the rules' deadline it replaces. Empty only in a decision made before
    rules named their events: no event meets it, and it is not followed.
    `moment`: what it runs from, the rule's `from` (`report`, `incident`, `arrest`); None
    where no rule set it. `counted_from`: when that moment was (UTC), the time the rule
    counted from; no event that meets the deadline can be dated before it.
    """

    due_at: dt.datetime
    basis: str
    rule_id: str
    met_by: list[CaseEventKind] = []
    moment: str | None = None
    counted_from: dt.datetime | None = None


class DecidedBy(msgspec.Struct, frozen=True):
    """The person whose act sent a case, beside the rules' view: their subject id at the
    identity provider (never a name), the role they acted in (`assessor`, `prosecutor`),
    the act (`routed`, `transferred`, `linked`, `corrected`: a correction the rules then
    routed), its id (the case's message id), the reason given (None when none was needed),
    the report version the case carries (1: as accepted), and for `linked` the report it
    is linked to."""

    subject: str
    role: str
    act: str
    act_id: uuid.UUID
    reason: str | None = None
    report_version: int = 1
    linked_to: uuid.UUID | None = None


class Decision(msgspec.Struct, frozen=True):
    """The router's decision for one report; stored append-only and sent with the case."""

    report_id: uuid.UUID
    unit: str
    priority: Priority
    amqp_priority: int
    ruleset_version: str
    decided_at: dt.datetime
    district: str | None = None
    deadline: Deadline | None = None
    matched_rules: list[str] = []
    triage_reasons: list[str] = []
    # Set when a person decided (the rules' view is still the fields above): who, how, why.
    decided_by: DecidedBy | None = None

    @property
    def triaged(self) -> bool:
        """True when the report needs a human before it can go to a unit."""
        return self.unit == TRIAGE_UNIT
