"""The outbox relay: publishes committed reports and people's decisions to RabbitMQ with
publisher confirms.

A relay claims pending rows for a while (`FSI_RELAY_CLAIM_SECONDS`) in one committed
statement that also counts the attempt, publishes them, and marks the confirmed ones
published; several relays (in several processes) share the work without publishing a row
twice at once. A row whose outcome is never recorded (a crash, a lost connection, a mark
that fails after the confirm) is claimed again once its claim expires and republished with
the same `message_id` (the report's id; for a row announcing a person's decision, the
decision's), which the router treats as the same message (at-least-once on the wire);
after `FSI_RELAY_MAX_ATTEMPTS` such claims it is set aside, logged with its report id
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

import aio_pika
import aiormq
import asyncpg

from schemas.envelope import CONTENT_TYPE
from services.common import broker, db
from services.common.logging import get_logger
from services.intake import metrics, outbox_store
from services.intake.brokerlink import BrokerLink
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
    """The AMQP message of one outbox row: persistent, identified by the report id, or by
    the decision id for a person's decision (`case.decided`)."""
    return aio_pika.Message(
        row.payload,
        message_id=row.message_id,
        type=row.message_type,
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        timestamp=dt.datetime.now(dt.UTC),
        headers={"x-fsi-source-format": row.source_format},
    )


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
