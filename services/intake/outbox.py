"""The outbox relay: publishes committed reports to RabbitMQ with publisher confirms.

A relay claims pending rows for a while (`FSI_RELAY_CLAIM_SECONDS`) in one committed
statement that also counts the attempt, publishes them, and marks the confirmed ones
published; several relays (in several processes) share the work without publishing a row
twice at once. A row whose outcome is never recorded (a crash, a lost connection, a mark
that fails after the confirm) is claimed again once its claim expires and republished with
the same `message_id`, which the router treats as the same report (at-least-once on the
wire); after `FSI_RELAY_MAX_ATTEMPTS` such claims it is set aside, logged with its report id
and counted, until an operator puts it back (`python -m services.intake.outbox_cli`). A
publish that fails backs off per row. The relay wakes on `NOTIFY fsi_outbox` where a session
connection exists (not through a transaction pooler) and always polls, and keeps trying while
the broker is away: accepting reports never waits for it. When idle it also clears the
copies of the report held by rows published longer ago than the retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import aio_pika
import aiormq
import asyncpg

from schemas.envelope import CONTENT_TYPE
from services.common import broker, db
from services.common.logging import get_logger
from services.common.startup import StartupError, where
from services.common.topology import Topology, TopologyMismatch, declare
from services.intake import metrics, outbox_store
from services.intake.settings import RelaySettings

log = get_logger("outbox")

# One purge clears at most this many rows per statement, and takes this many statements:
# short transactions, and a large first purge spread over several runs.
_PURGE_LIMIT = 5000
_PURGE_ROUNDS = 20


def _confirmed(outcome: object) -> bool:
    # Only Basic.Ack confirms; an exception (a nack, a return, a timeout) or nothing does not.
    return isinstance(outcome, aiormq.spec.Basic.Ack)


def message_for(row: outbox_store.Claimed) -> aio_pika.Message:
    """The AMQP message of one outbox row: persistent, identified by the report id."""
    return aio_pika.Message(
        row.payload,
        message_id=str(row.report_id),
        type=row.message_type,
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        timestamp=dt.datetime.now(dt.UTC),
        headers={"x-fsi-source-format": row.source_format},
    )


@dataclass
class BrokerLink:
    """One connection and confirm channel, opened on demand and dropped on failure.

    `state` is `up`, `down`, or `mismatch` (RabbitMQ answers but holds a queue or exchange of
    ours with other arguments); `problem` says why in one line, naming FSI_BROKER_URL's host
    and port (never its credentials) or the queue and argument that differ, and
    `problem_since` when that problem began (UTC). /readyz shows the state and problem, the
    operations page all three."""

    url: str
    topology: Topology
    connection: aio_pika.abc.AbstractConnection | None = None
    channel: aio_pika.abc.AbstractChannel | None = None
    exchange: aio_pika.abc.AbstractExchange | None = None
    problem: str | None = None
    mismatch: bool = False
    problem_since: dt.datetime | None = None

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.is_closed

    @property
    def state(self) -> Literal["up", "down", "mismatch"]:
        if self.connected and self.problem is None:
            return "up"
        return "mismatch" if self.mismatch else "down"

    async def ensure(self) -> aio_pika.abc.AbstractExchange:
        if (
            self.exchange is not None
            and self.connected
            and self.channel
            and not self.channel.is_closed
        ):
            return self.exchange
        await self.close()
        try:
            self.connection = await broker.connect(self.url, wait_seconds=5)
        except StartupError as exc:  # not an AMQP URL: a broker failure like the others
            raise aio_pika.exceptions.AMQPConnectionError(str(exc)) from None
        self.channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        await declare(self.channel, self.topology)
        self.exchange = await self.channel.get_exchange(self.topology.reports_exchange.name)
        self.problem, self.mismatch, self.problem_since = None, False, None
        log.info("broker connected", broker=where(self.url, broker.port_of(self.url)))
        return self.exchange

    def failed(self, exc: BaseException) -> bool:
        """Note why the broker cannot be used; True when that differs from the last reason
        (worth a log line)."""
        if isinstance(exc, aio_pika.exceptions.AMQPConnectionError) and str(exc).startswith(
            "FSI_BROKER_URL"
        ):
            problem = str(exc)
        elif isinstance(exc, aiormq.exceptions.PublishError):
            problem = (
                f"RabbitMQ returned the reports: no queue is bound for them (is "
                f"'{self.topology.routing_queue.name}' missing? it is declared again)"
            )
        else:
            problem = str(broker.broker_error(exc, self.url))
        changed = problem != self.problem
        if changed:
            self.problem_since = dt.datetime.now(dt.UTC)
        self.problem, self.mismatch = problem, isinstance(exc, TopologyMismatch)
        return changed

    async def close(self) -> None:
        connection, self.connection, self.channel, self.exchange = self.connection, None, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


@dataclass
class OutboxRelay:
    """Publishes pending outbox rows until stopped. `listen_url`: a connection where LISTEN
    holds (None behind a transaction pooler: the relay then only polls)."""

    pool: asyncpg.Pool
    listen_url: str | None
    link: BrokerLink
    settings: RelaySettings
    published_total: int = 0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _listener: asyncpg.Connection | None = None
    _stopping: bool = False
    _purged_at: float | None = None  # loop time of the last purge

    async def purge_if_due(self) -> int:
        """Clear the message copies of rows published longer ago than the settings keep
        them, at most every `purge_every_seconds`; how many were cleared."""
        now = asyncio.get_running_loop().time()
        if (
            self._purged_at is not None
            and now - self._purged_at < self.settings.purge_every_seconds
        ):
            return 0
        self._purged_at = now
        keep = dt.timedelta(hours=self.settings.keep_published_hours)
        total = 0
        for _ in range(_PURGE_ROUNDS):
            cleared = await outbox_store.purge_published_payloads(self.pool, keep, _PURGE_LIMIT)
            total += cleared
            if cleared < _PURGE_LIMIT:
                break
        if total:
            metrics.payloads_purged.inc(total)
            log.info("published reports' outbox copies cleared", rows=total)
        return total

    def stop(self) -> None:
        """Ask the loop to finish after the batch in hand."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """The relay loop: publish, then sleep until notified or the poll interval passes."""
        try:
            while not self._stopping:
                await self._ensure_listener()
                try:
                    count = await self.publish_pending()
                    if count < self.settings.batch_size:  # not while a backlog waits
                        await self.purge_if_due()
                except broker.BROKER_ERRORS as exc:
                    await self._broker_failed(exc)
                    continue
                except (asyncpg.PostgresError, *db.CONNECTION_ERRORS) as exc:
                    log.warning("outbox database error", error=type(exc).__name__)
                    await asyncio.sleep(self.settings.reconnect_seconds)
                    continue
                except Exception as exc:
                    # A bug must not end publishing for good: log it and go on.
                    log.error("outbox relay error", exc_info=exc)
                    await asyncio.sleep(self.settings.reconnect_seconds)
                    continue
                if count < self.settings.batch_size:
                    await self._sleep(self.settings.poll_seconds)
                    if self.settings.linger_seconds and not self._stopping:
                        await asyncio.sleep(self.settings.linger_seconds)
        finally:
            await self._close_listener()
            await self.link.close()

    async def publish_pending(self) -> int:
        """Claim one batch, set aside the rows whose claims never settled, publish the
        others and mark the confirmed ones; the number of rows claimed (so the loop goes
        on at once while a backlog waits). Raises the first broker error when no row of
        the batch was confirmed, a database error when the claim or the mark fails."""
        exchange = await self.link.ensure()
        lease = dt.timedelta(seconds=self.settings.claim_seconds)
        rows, aside = await outbox_store.claim(
            self.pool, self.settings.batch_size, lease, self.settings.max_attempts
        )
        for row in aside:
            metrics.outbox_set_aside.inc()
            log.error(
                "outbox row set aside: its claims ended without an outcome; publish it again "
                "with `python -m services.intake.outbox_cli put-back`",
                report_id=str(row.report_id),
                attempts=row.attempts,
            )
        if not rows:
            return len(aside)
        outcomes = await asyncio.gather(
            *(
                exchange.publish(message_for(r), routing_key=r.routing_key, timeout=10)
                for r in rows
            ),
            return_exceptions=True,
        )
        done = [r.id for r, o in zip(rows, outcomes, strict=True) if _confirmed(o)]
        failed = [r.id for r, o in zip(rows, outcomes, strict=True) if not _confirmed(o)]
        if failed:
            metrics.publishes.labels("failed").inc(len(failed))
            with contextlib.suppress(asyncpg.PostgresError, *db.CONNECTION_ERRORS):
                # If this is lost too, the claims expire and count as unsettled, no worse.
                await outbox_store.back_off(
                    self.pool,
                    failed,
                    self.settings.reconnect_seconds,
                    self.settings.retry_max_seconds,
                )
        if done:
            await self._mark(done)
        if failed and not done:
            first = next((o for o in outcomes if isinstance(o, BaseException)), None)
            raise first or aiormq.exceptions.AMQPError("publish not confirmed")
        if failed:
            # One row that keeps failing must not hold back the rows after it.
            log.warning(
                "some outbox rows failed to publish", failed=len(failed), published=len(done)
            )
        return len(rows) + len(aside)

    async def _mark(self, ids: list[int]) -> None:
        try:
            await outbox_store.mark_published(self.pool, ids)
        except (asyncpg.PostgresError, *db.CONNECTION_ERRORS):
            # Confirmed but not recorded: claimed and published again once the claim expires
            # (a repeat the router recognises), at most FSI_RELAY_MAX_ATTEMPTS times.
            metrics.outbox_unmarked.inc(len(ids))
            log.warning("outbox rows confirmed but not marked published", rows=len(ids))
            raise
        metrics.publishes.labels("published").inc(len(ids))
        self.published_total += len(ids)

    async def _broker_failed(self, exc: BaseException) -> None:
        if self.link.failed(exc):
            log.warning(
                "broker unavailable; reports are kept in the outbox", problem=self.link.problem
            )
        await self.link.close()
        await asyncio.sleep(self.settings.reconnect_seconds)

    async def _sleep(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that arrives as the event is set, and the relay would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    async def _ensure_listener(self) -> None:
        if self.listen_url is None:
            return
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await outbox_store.listen(self.listen_url, self._wake.set)
        except (asyncpg.PostgresError, OSError):
            # Polling still publishes everything; the listener only makes it sooner.
            self._listener = None

    async def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None
