"""The operations monitor's gauges, set from each overview it reads (`ops`): services up,
the outbox, queues, routed cases, the work list and the units' deadlines."""

from __future__ import annotations

from services.common.caseevents.figures import UnitDeadlineFigures
from services.intake import metrics
from services.intake.metrics import NOT_KNOWN
from services.intake.ops_views import Overview, QueueState, WorklistView
from services.intake.triage.model import REASONS


def set_gauges(overview: Overview, slugs: list[str]) -> None:
    """Every gauge from one overview; `slugs`: the catalogue's districts (the work list's
    labels)."""
    metrics.broker_up.set(overview.broker.up)
    metrics.database_up.set(overview.database.up)
    # Cleared first: a queue that is gone, or a value that cannot be read now, must not
    # linger as its last reading (alerts would act on it).
    for gauge in (
        metrics.queue_ready,
        metrics.queue_unacknowledged,
        metrics.queue_consumers,
        metrics.cases_routed,
    ):
        gauge.clear()
    metrics.ops_refreshed.set(overview.generated_at.timestamp())
    outbox = overview.outbox
    metrics.outbox_pending.set(NOT_KNOWN if outbox is None else outbox.pending)
    metrics.outbox_oldest_age.set(NOT_KNOWN if outbox is None else outbox.oldest_age_seconds)
    metrics.outbox_set_aside_rows.set(NOT_KNOWN if outbox is None else outbox.set_aside)
    for kind, state in (
        ("triage", overview.triage),
        ("dead_letter", overview.dead_letter),
        ("routing", overview.routing),
    ):
        _set_queue(state, kind, "", "")
    set_worklist_gauges(overview.worklist, slugs)
    for district in overview.districts:
        for unit in district.units:
            _set_queue(unit.queue, "unit", district.name, unit.unit)
            if overview.database.up:
                metrics.cases_routed.labels(district.name, unit.unit).set(unit.routed_last_hour)
    known = [u.unit for d in overview.districts for u in d.units]
    set_deadline_gauges(overview.deadlines if overview.database.up else None, known)


def set_worklist_gauges(worklist: WorklistView | None, slugs: list[str]) -> None:
    """The work list gauges from one reading: every district of `slugs` (and `none`) at 0
    for every reason, then what waits; nothing while PostgreSQL cannot be read (an age alert
    must not act on an old reading)."""
    for gauge in (
        metrics.triage_waiting,
        metrics.triage_oldest_age,
        metrics.triage_approvals_pending,
    ):
        gauge.clear()
    if worklist is None:
        return
    for slug in [*slugs, metrics.NO_DISTRICT]:
        metrics.triage_oldest_age.labels(slug).set(0)
        for reason in REASONS:
            metrics.triage_waiting.labels(slug, reason).set(0)
    for listed in worklist.districts:
        label = listed.district or metrics.NO_DISTRICT
        metrics.triage_oldest_age.labels(label).set(listed.oldest_seconds or 0)
        for reason, count in listed.by_reason.items():
            metrics.triage_waiting.labels(label, reason).set(count)
    for kind in metrics.APPROVAL_KINDS:
        metrics.triage_approvals_pending.labels(kind).set(worklist.pending.get(kind, 0))


def set_deadline_gauges(figures: list[UnitDeadlineFigures] | None, units: list[str]) -> None:
    """The deadline gauges from one reading: open, due soon and not received at 0 for every
    unit of `units` (the catalogue), then each unit's figures; missed only where > 0 (by
    moment), the ratio only where a deadline fell due in 30 days. `figures` None (PostgreSQL
    not read): no series at all, so no alert acts on an old reading."""
    for gauge in (
        metrics.case_deadlines_open,
        metrics.case_deadlines_due_soon,
        metrics.case_deadlines_missed,
        metrics.case_deadlines_met_on_time_ratio,
        metrics.cases_not_received,
    ):
        gauge.clear()
    if figures is None:
        return
    for unit in units:
        for gauge in (
            metrics.case_deadlines_open,
            metrics.case_deadlines_due_soon,
            metrics.cases_not_received,
        ):
            gauge.labels(unit).set(0)
    for f in figures:
        metrics.case_deadlines_open.labels(f.unit).set(f.open)
        metrics.case_deadlines_due_soon.labels(f.unit).set(f.due_within_24h)
        metrics.cases_not_received.labels(f.unit).set(f.not_received)
        for moment, count in f.missed_by_moment.items():
            metrics.case_deadlines_missed.labels(f.unit, moment).set(count)
        if f.share_met_on_time is not None:
            metrics.case_deadlines_met_on_time_ratio.labels(f.unit).set(f.share_met_on_time)


def _set_queue(state: QueueState | None, kind: str, district: str, unit: str) -> None:
    if state is None or state.missing:
        return
    labels = (state.name, kind, district, unit)
    if state.ready is not None:
        metrics.queue_ready.labels(*labels).set(state.ready)
    if state.unacknowledged is not None:
        metrics.queue_unacknowledged.labels(*labels).set(state.unacknowledged)
    if state.consumers is not None:
        metrics.queue_consumers.labels(*labels).set(state.consumers)
