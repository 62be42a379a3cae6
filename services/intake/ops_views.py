"""The operations overview as JSON and the page read it: queues, units, cases, the outbox,
the people's work list, and what this process's outbox relay knows of RabbitMQ (msgspec
Structs, times in UTC)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import msgspec

from services.common.caseevents.figures import DeadlineTotals, UnitDeadlineFigures


class QueueState(msgspec.Struct):
    """One queue as the broker reported it; None where it cannot tell."""

    name: str
    ready: int | None = None
    unacknowledged: int | None = None
    consumers: int | None = None
    missing: bool = False


class UnitView(msgspec.Struct):
    """One unit of the catalogue: its queue, what was routed to it in the last hour, and its
    deadline figures (exact, from the cases it holds: `UnitDeadlineFigures`)."""

    unit: str
    name: str
    queue: QueueState | None = None
    routed_last_hour: int = 0
    missed: int = 0
    due_within_24h: int = 0
    not_received: int = 0
    # The earliest open deadline of a case the unit holds.
    nearest_deadline: dt.datetime | None = None
    # Cases decided for the unit that its queue returned (missing): not routed yet.
    waiting: int = 0


class DistrictView(msgspec.Struct):
    name: str
    units: list[UnitView]
    default_unit: str
    routed_last_hour: int = 0
    missed: int = 0
    due_within_24h: int = 0
    waiting: int = 0
    # The district's work list: reports waiting for a person, and how long the one waiting
    # longest has waited (seconds; None when none waits or PostgreSQL was not read).
    triage_waiting: int = 0
    triage_oldest_seconds: float | None = None
    proposals_pending: int = 0


class WorklistDistrict(msgspec.Struct):
    """One district's work list (`district` None: reports no district could be placed for):
    reports waiting by why (`work_items.reason` codes), the longest wait in seconds, and what
    waits for a prosecutor (`pending`: closure, transfer, downgrade)."""

    district: str | None
    waiting: int = 0
    oldest_seconds: float | None = None
    by_reason: dict[str, int] = msgspec.field(default_factory=dict)
    pending: dict[str, int] = msgspec.field(default_factory=dict)


class WorklistView(msgspec.Struct):
    """The people's work list as the monitor last read it: totals and each district with
    anything waiting (`pending` by kind: closure and transfer proposals, downgrades not
    reviewed)."""

    waiting: int
    oldest_seconds: float | None
    pending: dict[str, int]
    districts: list[WorklistDistrict]


class Service(msgspec.Struct):
    """Whether a backing service answered the last read, and since when it has not."""

    up: bool
    checked_at: dt.datetime
    error: str | None = None


class RulesetView(msgspec.Struct):
    version: str
    loaded_at: dt.datetime
    rules: int
    router: str
    refused_at: dt.datetime | None = None
    refused_error: str | None = None


class CaseView(msgspec.Struct):
    """One case: ids and decision only, never the report's content; `waiting` when its
    unit's queue is missing and the router keeps publishing it again; `confirmed_at` when
    its queue confirmed it (routed), None while it is not yet taken."""

    report_id: str
    unit: str
    priority: str
    decided_at: dt.datetime
    deadline_at: dt.datetime | None
    rules: list[str]
    waiting: bool = False
    confirmed_at: dt.datetime | None = None


class OutboxView(msgspec.Struct):
    pending: int
    oldest_age_seconds: float
    # Rows the relay set aside (not pending: they wait for an operator, see docs/operations.md).
    set_aside: int = 0


RelayState = Literal["up", "down", "mismatch", "connecting", "disabled"]


class RelayView(msgspec.Struct):
    """What this process's outbox relay knows: whether it can publish accepted reports.

    `state`: `up` (publishing), `down` (it cannot reach RabbitMQ, or RabbitMQ returned its
    reports), `mismatch` (RabbitMQ holds a queue or exchange of ours with other arguments),
    `connecting` (no connection yet and no failure), `disabled` (this process runs no relay;
    FSI_RELAY_ENABLED). `problem`: why it cannot publish, in one line naming the host and
    port (never credentials) or the queue and argument that differ; `since`: when that began.
    """

    state: RelayState
    problem: str | None = None
    since: dt.datetime | None = None

    @property
    def blocked(self) -> bool:
        """True when accepted reports cannot be published (they stay in the outbox)."""
        return self.state in ("down", "mismatch")


class Overview(msgspec.Struct):
    """Everything the operations page shows, as one JSON document."""

    generated_at: dt.datetime
    broker: Service
    database: Service
    ruleset: RulesetView | None
    outbox: OutboxView | None
    # The triage queue: a feed of copies of the cases the rules sent to triage, for other
    # tools, bounded by the broker definitions (the oldest dropped). Not what waits for
    # people: that is `worklist` (work_items in PostgreSQL).
    triage: QueueState | None
    dead_letter: QueueState | None
    routing: QueueState | None
    districts: list[DistrictView]
    latest: list[CaseView] = []
    urgent: list[CaseView] = []
    # Cases whose queue (a unit's, or triage) is missing: decided, not routed, published
    # again by the router until the queue is back (`fsi-declare`).
    waiting: int = 0
    # The relay's own state: RabbitMQ may answer the monitor's reads while the relay cannot
    # publish (a queue of ours declared with other arguments).
    relay: RelayView = msgspec.field(default_factory=lambda: RelayView("disabled"))
    # The people's work list (None while PostgreSQL cannot be read).
    worklist: WorklistView | None = None
    # The units' deadline figures, exact (services.common.caseevents.figures): every unit
    # with anything to show, most missed first, and their totals (None while PostgreSQL
    # cannot be read); a case counts as not received `not_received_after_seconds` after it
    # was routed (FSI_OPS_NOT_RECEIVED_AFTER_SECONDS).
    deadlines: list[UnitDeadlineFigures] = []
    deadline_totals: DeadlineTotals | None = None
    not_received_after_seconds: float = 3600.0
