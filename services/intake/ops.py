"""The operations overview: queues, deadlines, outbox lag and rule set, read on an interval.

One monitor per intake process reads RabbitMQ (`ops_queues`: its management API when
configured, else passive declares, which give ready messages and consumers but not
unacknowledged ones) and PostgreSQL (`ops_store`) every few seconds, keeps the latest
`Overview` (`ops_views`) for `/ops` and `/v1/ops/overview`, and sets the queue, deadline,
outbox and work list gauges (`metrics`); a scrape never queries either. The deadline figures
are exact, from the cases the units hold and the events they reported
(`services.common.caseevents.figures`). The unit catalogue
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
from services.common.caseevents.figures import totals
from services.common.logging import get_logger
from services.common.topology import Topology
from services.intake.ops_gauges import set_gauges
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
            latest=db.latest,
            urgent=db.urgent,
            waiting=sum(row["waiting"] for row in db.units.values()),
            relay=self._relay(),
            worklist=db.worklist,
            deadlines=db.deadlines or [],
            deadline_totals=None if db.deadlines is None else totals(db.deadlines),
            not_received_after_seconds=self.settings.not_received_after_seconds,
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
        figures = {f.unit: f for f in db.deadlines or []}
        for entry in district.units:
            row = db.units.get(entry.unit)
            view = UnitView(
                entry.unit, entry.name, queues.get(self.topology.unit_queue(entry.unit).name)
            )
            if row is not None:
                view.routed_last_hour = row["routed_last_hour"]
                view.waiting = row["waiting"]
            found = figures.get(entry.unit)
            if found is not None:
                view.missed, view.due_within_24h = found.missed, found.due_within_24h
                view.not_received = found.not_received
                view.nearest_deadline = found.next_due_at
            units.append(view)
        shown = DistrictView(
            district.name,
            units,
            district.default,
            sum(u.routed_last_hour for u in units),
            sum(u.missed for u in units),
            sum(u.due_within_24h for u in units),
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
        slugs = [d.slug for d in (self._catalogue.districts if self._catalogue else [])]
        set_gauges(overview, slugs)


def _listed(worklist: WorklistView | None, slug: str) -> WorklistDistrict | None:
    if worklist is None:
        return None
    return next((d for d in worklist.districts if d.district == slug), None)
