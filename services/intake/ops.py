"""The operations overview: queues, deadlines, outbox lag and rule set, read on an interval.

One monitor per intake process reads RabbitMQ (its management API when configured, else
passive declares, which give ready messages and consumers but not unacknowledged ones) and
PostgreSQL every few seconds, keeps the latest `Overview` for `/ops` and
`/v1/ops/overview`, and sets the queue and deadline gauges; a scrape never queries either.
The unit catalogue comes from the rule set the router last loaded (`rule_loads`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aio_pika
import asyncpg
import httpx
from prometheus_client import Gauge

from schemas.catalogue import Catalogue, District
from services.common import broker
from services.common.logging import get_logger
from services.common.topology import Topology
from services.intake import metrics
from services.intake.ops_store import DatabaseRead, cause, read_database
from services.intake.ops_views import (
    DistrictView,
    Overview,
    QueueState,
    RelayView,
    Service,
    UnitView,
)
from services.intake.settings import OpsSettings

if TYPE_CHECKING:
    from services.intake.outbox import BrokerLink

log = get_logger("ops")

_LABELS = ["queue", "kind", "district", "unit"]
ready_gauge = Gauge("fsi_queue_messages_ready", "Messages ready in a queue.", _LABELS)
unacked_gauge = Gauge(
    "fsi_queue_messages_unacknowledged",
    "Messages delivered and not yet acknowledged (management API only).",
    _LABELS,
)
consumers_gauge = Gauge("fsi_queue_consumers", "Consumers of a queue.", _LABELS)
deadline_gauge = Gauge(
    "fsi_cases_deadline",
    "Cases decided for a unit by deadline window, delivered or waiting for a missing queue "
    "(overdue: passed within the look-back; due_7d includes due_24h).",
    ["district", "unit", "window"],
)
routed_gauge = Gauge(
    "fsi_cases_routed_last_hour", "Cases routed to a unit in the last hour.", ["district", "unit"]
)
broker_up = Gauge("fsi_broker_up", "1 when the monitor could read RabbitMQ.")
database_up = Gauge("fsi_database_up", "1 when the monitor could read PostgreSQL.")
refreshed = Gauge("fsi_ops_refreshed_timestamp_seconds", "When the overview was last read.")
# Not known before the first reading, nor while PostgreSQL cannot be read: NaN, never a 0
# that would say "down" or "no backlog" (alerts compare with 0; NaN compares false).
UNKNOWN = float("nan")
# What reading the queues may meet: the broker's failures, the management API's, and the
# RuntimeError aio-pika raises on a connection that died under it.
_READ_ERRORS: tuple[type[Exception], ...] = (*broker.BROKER_ERRORS, httpx.HTTPError, RuntimeError)
broker_up.set(UNKNOWN)
database_up.set(UNKNOWN)
metrics.outbox_pending.set(UNKNOWN)
metrics.outbox_oldest_age.set(UNKNOWN)
metrics.outbox_set_aside_rows.set(UNKNOWN)


@dataclass
class Monitor:
    """Reads the overview every `settings.interval_seconds`; `latest` is the last one.
    `link`: this process's outbox relay's broker link (None: it runs no relay), whose state
    the overview shows beside the monitor's own reading of RabbitMQ."""

    pool: asyncpg.Pool
    broker_url: str
    topology: Topology
    settings: OpsSettings
    link: BrokerLink | None = None
    latest: Overview | None = None
    _catalogue: Catalogue | None = None
    _connection: aio_pika.abc.AbstractConnection | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

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
                if self.settings.management_url:
                    states = await self._from_management(names)
                else:
                    states = await self._from_declares(names)
        except _READ_ERRORS as exc:
            await self.close()
            return {}, Service(False, now, cause(exc))
        return states, Service(True, now)

    async def _from_declares(self, names: list[str]) -> dict[str, QueueState]:
        if self._connection is None or self._connection.is_closed:
            self._connection = await aio_pika.connect(self.broker_url, timeout=5)
        channel = await self._connection.channel()
        states: dict[str, QueueState] = {}
        try:
            for name in names:
                try:
                    queue = await channel.declare_queue(name, passive=True)
                except aio_pika.exceptions.ChannelNotFoundEntity:
                    # A missing queue closes the channel; note it and go on with a new one.
                    states[name] = QueueState(name, missing=True)
                    channel = await self._connection.channel()
                    continue
                result = queue.declaration_result
                states[name] = QueueState(name, result.message_count, None, result.consumer_count)
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
        return states

    async def _from_management(self, names: list[str]) -> dict[str, QueueState]:
        url = urllib.parse.urlsplit(self.settings.management_url)
        vhost = urllib.parse.quote(urllib.parse.urlsplit(self.broker_url).path[1:] or "/", safe="")
        base = url._replace(netloc=(url.hostname or "") + (f":{url.port}" if url.port else ""))
        auth = (urllib.parse.unquote(url.username or ""), urllib.parse.unquote(url.password or ""))
        async with httpx.AsyncClient(auth=auth, timeout=5) as client:
            answer = await client.get(
                f"{base.geturl().rstrip('/')}/api/queues/{vhost}",
                params={"columns": "name,messages_ready,messages_unacknowledged,consumers"},
            )
            answer.raise_for_status()
        found = {q["name"]: q for q in answer.json()}
        return {
            name: QueueState(
                name,
                found[name].get("messages_ready"),
                found[name].get("messages_unacknowledged"),
                found[name].get("consumers"),
            )
            if name in found
            else QueueState(name, missing=True)
            for name in names
        }

    async def close(self) -> None:
        """Close its broker connection (`run` does when it ends; for a monitor only refreshed)."""
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

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
        return DistrictView(
            district.name,
            units,
            district.default,
            sum(u.routed_last_hour for u in units),
            sum(u.overdue for u in units),
            sum(u.due_24h for u in units),
            sum(u.waiting for u in units),
        )

    def _set_gauges(self, overview: Overview) -> None:
        broker_up.set(overview.broker.up)
        database_up.set(overview.database.up)
        # Cleared first: a queue that is gone, or a value that cannot be read now, must not
        # linger as its last reading (alerts would act on it).
        for gauge in (ready_gauge, unacked_gauge, consumers_gauge, deadline_gauge, routed_gauge):
            gauge.clear()
        refreshed.set(overview.generated_at.timestamp())
        outbox = overview.outbox
        metrics.outbox_pending.set(UNKNOWN if outbox is None else outbox.pending)
        metrics.outbox_oldest_age.set(UNKNOWN if outbox is None else outbox.oldest_age_seconds)
        metrics.outbox_set_aside_rows.set(UNKNOWN if outbox is None else outbox.set_aside)
        for kind, state in (
            ("triage", overview.triage),
            ("dead_letter", overview.dead_letter),
            ("routing", overview.routing),
        ):
            _set_queue(state, kind, "", "")
        for district in overview.districts:
            for unit in district.units:
                _set_queue(unit.queue, "unit", district.name, unit.unit)
                if overview.database.up:
                    routed_gauge.labels(district.name, unit.unit).set(unit.routed_last_hour)
                    for window in ("overdue", "due_24h", "due_7d"):
                        deadline_gauge.labels(district.name, unit.unit, window).set(
                            getattr(unit, window)
                        )


def _set_queue(state: QueueState | None, kind: str, district: str, unit: str) -> None:
    if state is None or state.missing:
        return
    labels = (state.name, kind, district, unit)
    if state.ready is not None:
        ready_gauge.labels(*labels).set(state.ready)
    if state.unacknowledged is not None:
        unacked_gauge.labels(*labels).set(state.unacknowledged)
    if state.consumers is not None:
        consumers_gauge.labels(*labels).set(state.consumers)
