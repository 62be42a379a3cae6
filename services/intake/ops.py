"""The operations overview: queues, deadlines, outbox lag and rule set, read on an interval.

One monitor per intake process reads RabbitMQ (`ops_queues`: its management API when
configured, else passive declares, which give ready messages and consumers but not
unacknowledged ones) and PostgreSQL (`ops_store`) every few seconds, keeps the latest
`Overview` (`ops_views`) for `/ops` and `/v1/ops/overview`, and sets the queue, deadline,
outbox and work list gauges (`metrics`); a scrape never queries either. The unit catalogue
comes from the rule set the router last loaded (`rule_loads`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg

from schemas.catalogue import Catalogue, District
from services.common.logging import get_logger
from services.common.topology import Topology
from services.intake import metrics
from services.intake.metrics import NOT_KNOWN
from services.intake.ops_queues import READ_ERRORS, QueueReader, queue_reader
from services.intake.ops_store import DatabaseRead, cause, read_database
from services.intake.ops_views import (
    DistrictView,
    Overview,
    QueueState,
    RelayView,
    Service,
    UnitView,
    WorklistDistrict,
    WorklistView,
)
from services.intake.settings import OpsSettings
from services.intake.triage.model import REASONS

if TYPE_CHECKING:
    from services.intake.brokerlink import BrokerLink

log = get_logger("ops")


@dataclass
class Monitor:
    """Reads the overview every `settings.interval_seconds`; `latest` is the last one.
    `link`: this process's outbox relay's broker link (None: it runs no relay), whose state
    the overview shows beside the monitor's own reading of RabbitMQ. The queues are read
    through the reader the settings choose (`ops_queues.queue_reader`)."""

    pool: asyncpg.Pool
    broker_url: str
    topology: Topology
    settings: OpsSettings
    link: BrokerLink | None = None
    latest: Overview | None = None
    _catalogue: Catalogue | None = None
    _reader: QueueReader = field(init=False)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._reader = queue_reader(self.settings, self.broker_url)

    async def run(self) -> None:
        """Refresh until stopped; a failing read is shown, never fatal."""
        try:
            while not self._stopping.is_set():
                try:
                    await self.refresh()
                except Exception as exc:
                    log.error("operations overview failed", error=cause(exc))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.interval_seconds):
                        await self._stopping.wait()
        finally:
            await self.close()

    def stop(self) -> None:
        self._stopping.set()

    async def refresh(self) -> Overview:
        now = dt.datetime.now(dt.UTC)
        db, database = await read_database(self.pool, self.settings, now)
        if db.catalogue is not None:
            self._catalogue = db.catalogue
        names = self._queue_names()
        queues, broker = await self._read_broker(names, now)
        overview = self._build(now, db, database, broker, queues)
        self._set_gauges(overview)
        self.latest = overview
        return overview

    # --- RabbitMQ -----------------------------------------------------------------------

    def _queue_names(self) -> list[str]:
        units = [
            u.unit for d in (self._catalogue.districts if self._catalogue else []) for u in d.units
        ]
        topology = Topology(self.topology.prefix, self.topology.queue_type, tuple(units))
        return [q.name for q in topology.queues]

    async def _read_broker(
        self, names: list[str], now: dt.datetime
    ) -> tuple[dict[str, QueueState], Service]:
        try:
            async with asyncio.timeout(self.settings.read_timeout_seconds):
                states = await self._reader.read(names)
        except READ_ERRORS as exc:
            await self.close()
            return {}, Service(False, now, cause(exc))
        return states, Service(True, now)

    async def close(self) -> None:
        """Let go of what its queue reader holds (`run` does when it ends; for a monitor only
        refreshed)."""
        await self._reader.close()

    # --- the overview -------------------------------------------------------------------

    def _build(
        self,
        now: dt.datetime,
        db: DatabaseRead,
        database: Service,
        broker: Service,
        queues: dict[str, QueueState],
    ) -> Overview:
        previous = self.latest
        districts = [
            self._district(d, db, queues)
            for d in (self._catalogue.districts if self._catalogue else [])
        ]
        return Overview(
            generated_at=now,
            broker=broker,
            database=database,
            # What PostgreSQL said last time stays visible (marked by `database`) while it
            # cannot be read.
            ruleset=db.ruleset or (previous.ruleset if previous and not database.up else None),
            outbox=db.outbox,
            triage=queues.get(self.topology.triage_queue.name),
            dead_letter=queues.get(self.topology.dead_letter_queue.name),
            routing=queues.get(self.topology.routing_queue.name),
            districts=districts,
            overdue_look_back_days=self.settings.overdue_look_back_days,
            latest=db.latest,
            urgent=db.urgent,
            waiting=sum(row["waiting"] for row in db.units.values()),
            relay=self._relay(),
            worklist=db.worklist,
        )

    def _relay(self) -> RelayView:
        link = self.link
        if link is None:
            return RelayView("disabled")
        state = link.state
        if state == "down" and link.problem is None:
            # Not connected, and nothing failed: before the relay's first connection.
            return RelayView("connecting")
        return RelayView(state, link.problem, link.problem_since)

    def _district(
        self, district: District, db: DatabaseRead, queues: dict[str, QueueState]
    ) -> DistrictView:
        units = []
        for entry in district.units:
            row = db.units.get(entry.unit)
            view = UnitView(
                entry.unit, entry.name, queues.get(self.topology.unit_queue(entry.unit).name)
            )
            if row is not None:
                view.routed_last_hour = row["routed_last_hour"]
                view.overdue, view.due_24h, view.due_7d = (
                    row["overdue"],
                    row["due_24h"],
                    row["due_7d"],
                )
                view.nearest_deadline = row["nearest"]
                view.waiting = row["waiting"]
            units.append(view)
        shown = DistrictView(
            district.name,
            units,
            district.default,
            sum(u.routed_last_hour for u in units),
            sum(u.overdue for u in units),
            sum(u.due_24h for u in units),
            sum(u.waiting for u in units),
        )
        listed = _listed(db.worklist, district.slug)
        if listed is not None:
            shown.triage_waiting = listed.waiting
            shown.triage_oldest_seconds = listed.oldest_seconds
            shown.proposals_pending = listed.pending.get("closure", 0) + listed.pending.get(
                "transfer", 0
            )
        return shown

    def _set_gauges(self, overview: Overview) -> None:
        metrics.broker_up.set(overview.broker.up)
        metrics.database_up.set(overview.database.up)
        # Cleared first: a queue that is gone, or a value that cannot be read now, must not
        # linger as its last reading (alerts would act on it).
        for gauge in (
            metrics.queue_ready,
            metrics.queue_unacknowledged,
            metrics.queue_consumers,
            metrics.cases_deadline,
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
        slugs = [d.slug for d in (self._catalogue.districts if self._catalogue else [])]
        set_worklist_gauges(overview.worklist, slugs)
        for district in overview.districts:
            for unit in district.units:
                _set_queue(unit.queue, "unit", district.name, unit.unit)
                if overview.database.up:
                    metrics.cases_routed.labels(district.name, unit.unit).set(unit.routed_last_hour)
                    for window in ("overdue", "due_24h", "due_7d"):
                        metrics.cases_deadline.labels(district.name, unit.unit, window).set(
                            getattr(unit, window)
                        )


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


def _listed(worklist: WorklistView | None, slug: str) -> WorklistDistrict | None:
    if worklist is None:
        return None
    return next((d for d in worklist.districts if d.district == slug), None)


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
