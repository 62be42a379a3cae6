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

import aio_pika
import aiormq
import asyncpg
import httpx
import msgspec
from prometheus_client import Gauge

from services.common import db
from services.common.logging import get_logger
from services.common.topology import Topology
from services.intake import metrics
from services.intake.settings import OpsSettings

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
broker_up.set(UNKNOWN)
database_up.set(UNKNOWN)
metrics.outbox_pending.set(UNKNOWN)
metrics.outbox_oldest_age.set(UNKNOWN)
metrics.outbox_set_aside_rows.set(UNKNOWN)


class QueueState(msgspec.Struct):
    """One queue as the broker reported it; None where it cannot tell."""

    name: str
    ready: int | None = None
    unacknowledged: int | None = None
    consumers: int | None = None
    missing: bool = False


class UnitView(msgspec.Struct):
    unit: str
    name: str
    queue: QueueState | None = None
    routed_last_hour: int = 0
    overdue: int = 0
    due_24h: int = 0
    due_7d: int = 0
    nearest_deadline: dt.datetime | None = None
    # Cases decided for the unit that its queue returned (missing): not routed yet.
    waiting: int = 0


class DistrictView(msgspec.Struct):
    name: str
    units: list[UnitView]
    default_unit: str
    routed_last_hour: int = 0
    overdue: int = 0
    due_24h: int = 0
    waiting: int = 0


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
    unit's queue is missing and the router keeps publishing it again."""

    report_id: str
    unit: str
    priority: str
    decided_at: dt.datetime
    deadline_at: dt.datetime | None
    rules: list[str]
    waiting: bool = False


class OutboxView(msgspec.Struct):
    pending: int
    oldest_age_seconds: float
    # Rows the relay set aside (not pending: they wait for an operator, see docs/operations.md).
    set_aside: int = 0


class Overview(msgspec.Struct):
    """Everything the operations page shows, as one JSON document."""

    generated_at: dt.datetime
    broker: Service
    database: Service
    ruleset: RulesetView | None
    outbox: OutboxView | None
    triage: QueueState | None
    dead_letter: QueueState | None
    routing: QueueState | None
    districts: list[DistrictView]
    overdue_look_back_days: int
    latest: list[CaseView] = []
    urgent: list[CaseView] = []
    # Cases whose queue (a unit's, or triage) is missing: decided, not routed, published
    # again by the router until the queue is back (`fsi-declare`).
    waiting: int = 0


class _Unit(msgspec.Struct):
    unit: str
    section: str
    name: str


class _District(msgspec.Struct):
    name: str
    slug: str
    default: str
    units: list[_Unit]


class _Catalogue(msgspec.Struct):
    districts: list[_District]


_LOADED = """
SELECT version, at, rules, router, catalogue::text FROM rule_loads
WHERE outcome = 'loaded' ORDER BY at DESC, id DESC LIMIT 1
"""
_REFUSED = "SELECT at, error FROM rule_loads WHERE outcome = 'refused' ORDER BY at DESC LIMIT 1"
# Routed means a queue confirmed the case (case_deliveries), not that it was decided. A
# deadline runs from the decision whether or not the unit's queue has taken the case yet, so
# the deadline figures count every case decided for the unit, and `waiting` counts those a
# missing queue returned (waiting_cases), which the router publishes again.
_UNITS = """
SELECT unit, sum(routed)::int AS routed_last_hour, sum(overdue)::int AS overdue,
       sum(due_24h)::int AS due_24h, sum(due_7d)::int AS due_7d, min(nearest) AS nearest,
       sum(waiting)::int AS waiting
FROM (
    SELECT unit, 1 AS routed, 0 AS overdue, 0 AS due_24h, 0 AS due_7d,
           NULL::timestamptz AS nearest, 0 AS waiting
    FROM case_deliveries WHERE confirmed_at > now() - interval '1 hour'
    UNION ALL
    SELECT unit, 0, (deadline_at < now())::int,
           (deadline_at >= now() AND deadline_at < now() + interval '24 hours')::int,
           (deadline_at >= now() AND deadline_at < now() + interval '7 days')::int,
           CASE WHEN deadline_at >= now() THEN deadline_at END, 0
    FROM decisions WHERE deadline_at > now() - $1::interval
    UNION ALL
    SELECT unit, 0, 0, 0, 0, NULL, 1 FROM waiting_cases WHERE delivered_at IS NULL
) AS figures
GROUP BY unit
"""
_LATEST = """
SELECT d.report_id, c.unit, d.priority, d.decided_at, d.deadline_at, d.matched_rules,
       false AS waiting
FROM case_deliveries c JOIN decisions d USING (report_id)
ORDER BY c.confirmed_at DESC LIMIT $1
"""
_URGENT = """
SELECT d.report_id, d.unit, d.priority, d.decided_at, d.deadline_at, d.matched_rules,
       w.report_id IS NOT NULL AS waiting
FROM decisions d
LEFT JOIN waiting_cases w ON w.report_id = d.report_id AND w.delivered_at IS NULL
WHERE d.deadline_at >= now() ORDER BY d.deadline_at LIMIT $1
"""
_OUTBOX = """
SELECT count(*) FILTER (WHERE set_aside_at IS NULL) AS pending,
       coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE set_aside_at IS NULL)),
                0)::float8 AS oldest,
       count(*) FILTER (WHERE set_aside_at IS NOT NULL) AS set_aside
FROM outbox WHERE published_at IS NULL
"""


@dataclass
class _DatabaseRead:
    catalogue: _Catalogue | None = None
    ruleset: RulesetView | None = None
    units: dict[str, asyncpg.Record] = field(default_factory=dict)
    outbox: OutboxView | None = None
    latest: list[CaseView] = field(default_factory=list)
    urgent: list[CaseView] = field(default_factory=list)


def _case(row: asyncpg.Record) -> CaseView:
    return CaseView(
        str(row["report_id"]),
        row["unit"],
        row["priority"],
        row["decided_at"],
        row["deadline_at"],
        list(row["matched_rules"]),
        row["waiting"],
    )


def _cause(exc: BaseException) -> str:
    # The class name says enough and never carries data from the request or the row.
    return type(exc).__name__


@dataclass
class Monitor:
    """Reads the overview every `settings.interval_seconds`; `latest` is the last one."""

    pool: asyncpg.Pool
    broker_url: str
    topology: Topology
    settings: OpsSettings
    latest: Overview | None = None
    _catalogue: _Catalogue | None = None
    _connection: aio_pika.abc.AbstractConnection | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Refresh until stopped; a failing read is shown, never fatal."""
        try:
            while not self._stopping.is_set():
                try:
                    await self.refresh()
                except Exception as exc:
                    log.error("operations overview failed", error=_cause(exc))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.settings.interval_seconds):
                        await self._stopping.wait()
        finally:
            await self.close()

    def stop(self) -> None:
        self._stopping.set()

    async def refresh(self) -> Overview:
        now = dt.datetime.now(dt.UTC)
        db, database = await self._read_database(now)
        if db.catalogue is not None:
            self._catalogue = db.catalogue
        names = self._queue_names()
        queues, broker = await self._read_broker(names, now)
        overview = self._build(now, db, database, broker, queues)
        self._set_gauges(overview)
        self.latest = overview
        return overview

    # --- PostgreSQL ---------------------------------------------------------------------

    async def _read_database(self, now: dt.datetime) -> tuple[_DatabaseRead, Service]:
        read = _DatabaseRead()
        try:
            async with asyncio.timeout(self.settings.read_timeout_seconds):
                async with self.pool.acquire() as conn:
                    await self._read_rules(conn, read)
                    look_back = dt.timedelta(days=self.settings.overdue_look_back_days)
                    read.units = {r["unit"]: r for r in await conn.fetch(_UNITS, look_back)}
                    row = await conn.fetchrow(_OUTBOX)
                    read.outbox = OutboxView(
                        row["pending"], round(row["oldest"], 3), row["set_aside"]
                    )
                    count = self.settings.cases_shown
                    read.latest = [_case(r) for r in await conn.fetch(_LATEST, count)]
                    read.urgent = [_case(r) for r in await conn.fetch(_URGENT, count)]
        except (asyncpg.PostgresError, *db.CONNECTION_ERRORS) as exc:
            return read, Service(False, now, _cause(exc))
        return read, Service(True, now)

    async def _read_rules(self, conn: asyncpg.Connection, read: _DatabaseRead) -> None:
        loaded = await conn.fetchrow(_LOADED)
        if loaded is None:
            return
        read.catalogue = msgspec.json.decode(loaded["catalogue"], type=_Catalogue)
        read.ruleset = RulesetView(
            loaded["version"], loaded["at"], loaded["rules"], loaded["router"]
        )
        refused = await conn.fetchrow(_REFUSED)
        if refused is not None and refused["at"] > loaded["at"]:
            read.ruleset.refused_at = refused["at"]
            read.ruleset.refused_error = refused["error"]

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
        except (
            aio_pika.exceptions.AMQPError,
            aiormq.exceptions.AMQPError,
            httpx.HTTPError,
            OSError,
            TimeoutError,
            RuntimeError,  # aio-pika's answer on a connection that died under it
        ) as exc:
            await self.close()
            return {}, Service(False, now, _cause(exc))
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
        db: _DatabaseRead,
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
        )

    def _district(
        self, district: _District, db: _DatabaseRead, queues: dict[str, QueueState]
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
