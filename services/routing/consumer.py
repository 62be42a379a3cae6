"""The router's consumer: deliveries in order, in batches, each batch settled in its turn.

The consumer knows nothing of reports: it hands each batch to a route callable (the
handler, `handler.Router.route`) and settles what that callable says became of it.
Deliveries wait in order while earlier batches are on their way, then go together; one
acknowledgement with `multiple` covers a batch once every earlier batch is settled. A
database or broker failure (or a bug) puts the batch's deliveries back to the queue after a
pause, so none is left unacknowledged and none loops fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aio_pika

from services.common.logging import get_logger
from services.routing.cases import unroutable_target
from services.routing.deliveries import TRANSIENT, Pending, ack, ack_all

log = get_logger("router")
Message = aio_pika.abc.AbstractIncomingMessage


def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What routing a batch came to, for the consumer to settle.

    `done`: deliveries to acknowledge (their cases a queue confirmed, or waiting in
    PostgreSQL for their queue). `failed`: deliveries whose case was neither confirmed nor
    returned, with the error, to go back to the queue after a pause. Deliveries in neither
    the route callable settled itself (a dead letter is acknowledged when the dead-letter
    queue holds it). `acknowledged` runs once the acknowledgements are sent (counting and
    logging); what it raises is logged, never passed on."""

    done: list[Message] = field(default_factory=list)
    failed: list[tuple[Message, BaseException]] = field(default_factory=list)
    acknowledged: Callable[[], None] = _nothing


# Routes one batch of (message, perf_counter() at delivery) pairs. Raising one of
# `TRANSIENT` (a database or broker failure) puts the batch's unsettled deliveries back.
RouteBatch = Callable[[list[Pending]], Awaitable[Outcome]]


@dataclass
class Sequencer:
    """Gathers deliveries into batches for `route` and settles them in order.

    At most `batches_in_flight` batches of up to `max_batch` deliveries are on their way at
    once; a failure that passes puts deliveries back after `retry_seconds`."""

    route: RouteBatch
    retry_seconds: float = 2.0
    max_batch: int = 64
    batches_in_flight: int = 2
    _pending: list[Pending] = field(default_factory=list)
    _batches: set[asyncio.Task[None]] = field(default_factory=set)
    _draining: int = 0  # batch tasks that will still look at `_pending`
    _settled: asyncio.Future[None] | None = None  # the latest batch's, set once settled

    async def handle(self, message: Message) -> None:
        """The consumer callback: the delivery joins the next batch."""
        self._pending.append((message, time.perf_counter()))
        if self._draining < self.batches_in_flight:
            self._draining += 1
            task = asyncio.create_task(self._drain())
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def drained(self) -> None:
        """Wait for the batches on their way (once the consumer is cancelled)."""
        while self._batches:
            await asyncio.gather(*self._batches, return_exceptions=True)

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                previous = self._settled
                self._settled = settled = asyncio.get_running_loop().create_future()
                try:
                    await self._settle(batch, previous)
                except Exception as exc:  # a bug must not strand the batch unacknowledged
                    log.error("routing a batch failed", error=type(exc).__name__, exc_info=True)
                    await self._retry_later([m for m, _ in batch if not m.processed], exc)
                finally:
                    # Settled means this batch and every earlier one: only then may a later
                    # batch's `multiple` acknowledgement cover their delivery tags.
                    if previous is not None:
                        await asyncio.shield(previous)
                    settled.set_result(None)
        finally:
            # No await between the last look at `_pending` and this: a delivery appended
            # meanwhile finds the count lowered and starts a task of its own.
            self._draining -= 1

    async def _settle(self, batch: list[Pending], previous: asyncio.Future[None] | None) -> None:
        """Route the batch, then acknowledge what is done and put back what failed."""
        try:
            outcome = await self.route(batch)
        except TRANSIENT as exc:
            await self._retry_later([m for m, _ in batch if not m.processed], exc)
            return
        if outcome.failed:
            # One by one, so that no `multiple` covers a report whose case is not confirmed.
            for message in outcome.done:
                await ack(message)
            await self._retry_later([m for m, _ in outcome.failed], outcome.failed[0][1])
        else:
            if previous is not None:
                await asyncio.shield(previous)
            await ack_all(outcome.done)
        # Past this point nothing may raise: a `multiple` acknowledgement leaves the messages
        # it covers looking unprocessed, and nacking one of those would close the channel.
        try:
            outcome.acknowledged()
        except Exception:
            log.error("counting routed reports failed", exc_info=True)

    async def _retry_later(self, messages: list[Message], exc: BaseException) -> None:
        """Back to the queue after a pause: a database or broker failure passes."""
        if not messages:
            return
        log.warning(
            "routing failed; the reports go back to the queue",
            error=type(exc).__name__,
            # A dead letter returned: the dead-letter queue is missing (fsi-declare repairs).
            unroutable=unroutable_target(exc),
            reports=len(messages),
        )
        await asyncio.sleep(self.retry_seconds)
        for message in messages:
            with contextlib.suppress(*TRANSIENT):
                await message.nack(requeue=True)
