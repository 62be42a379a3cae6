"""The router's door for case events over AMQP: the case-events queue in batches, applied.

A `consumer.Sequencer` hands batches of deliveries to `CaseEvents.route`, which settles them
with `caseevents_handler.settle` (one `apply_events` transaction per batch) on a confirming
channel of its own (acknowledgements are per channel). Applied and repeated events are
acknowledged; a refused one is copied to the dead-letter exchange with its reason
(`x-fsi-reason`), code (`x-fsi-code`) and sender (`x-fsi-client`), and acknowledged once
the broker confirmed the copy. An outage of the database or broker puts the whole batch back
after a pause (`caseevents_handler.OUTAGE`): it dead-letters nothing, and events applied
before it come again as repeats. Any other failure of a batch is tried event by event, and
an event that fails alone is dead-lettered as `invalid` (`settle_apart`). Logs carry ids,
units, kinds and codes only: one line per batch, one per refusal.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
import asyncpg

from services.common.caseevents.metrics import APPLIED, REPEAT
from services.common.caseevents.store import Incoming, Outcome, apply_events
from services.common.logging import get_logger
from services.common.topology import Topology
from services.routing import consumer, metrics
from services.routing.caseevents_handler import Delivered, Verdict, settle_apart
from services.routing.deadletters import to_dead_letters
from services.routing.deliveries import Pending

log = get_logger("router")
# The case-events channel's prefetch and the largest batch: an event is a few hundred bytes
# (reports, up to 1 MiB, keep FSI_CONSUMER_PREFETCH), and a batch costs one transaction
# (five round trips and a WAL flush) whatever its size, so a wider window lets batches grow
# while one is applied: apply_events alone did about 4,400 events/s in batches of 16 and
# 10,000 in batches of 128 on a 2-core machine (docs/benchmarks.md).
PREFETCH = 256
MAX_BATCH = 128
Message = aio_pika.abc.AbstractIncomingMessage
StoreApply = Callable[[asyncpg.Connection, Sequence[Incoming]], Awaitable[list[Outcome]]]


def delivered(message: Message) -> Delivered:
    """What the handler reads of a delivery."""
    return Delivered(message.body, message.routing_key, message.user_id, message.message_id)


@dataclass
class CaseEvents:
    """Applies batches of case-event deliveries (`route`, a `consumer.Sequencer`'s route
    callable) with `store` (`apply_events` unless a test gives another)."""

    pool: asyncpg.Pool
    topology: Topology
    store: StoreApply = apply_events
    applied: int = 0  # events applied (not repeats) since start
    settled: int = 0  # deliveries acknowledged: applied, repeated or dead-lettered
    _dead_letters: aio_pika.abc.AbstractExchange | None = None

    async def bind(self, channel: aio_pika.abc.AbstractChannel) -> None:
        """Consume and publish dead letters on this confirming channel."""
        self._dead_letters = await channel.get_exchange(self.topology.dead_letter_exchange.name)

    async def route(self, batch: list[Pending]) -> consumer.Outcome:
        """Settle the batch: apply (one transaction), dead-letter the refused ones (each
        confirmed); every delivery is then done. Raises a database or broker error
        (`deliveries.TRANSIENT`) when the batch must be tried again."""
        messages = [m for m, _ in batch]
        verdicts = await settle_apart(self._apply, [delivered(m) for m in messages])
        refused = [(m, v) for m, v in zip(messages, verdicts, strict=True) if v.refused]
        if refused:
            sent = await asyncio.gather(
                *(self._dead_letter(m, v) for m, v in refused), return_exceptions=True
            )
            for failure in sent:
                if isinstance(failure, BaseException):
                    raise failure  # unconfirmed: the batch comes again, judged again
        return consumer.Outcome(
            done=messages, acknowledged=functools.partial(self._count, messages, verdicts)
        )

    async def _apply(self, incoming: Sequence[Incoming]) -> list[Outcome]:
        async with self.pool.acquire() as conn:
            return await self.store(conn, incoming)

    async def _dead_letter(self, message: Message, verdict: Verdict) -> None:
        assert self._dead_letters is not None
        assert verdict.reason is not None  # a refused verdict carries its reason
        headers = {"x-fsi-code": verdict.verdict, "x-fsi-client": delivered(message).client}
        await to_dead_letters(
            self._dead_letters,
            message,
            verdict.reason,
            self.topology.case_events_queue.name,
            headers,
        )

    def _count(self, messages: list[Message], verdicts: list[Verdict]) -> None:
        """Count and log once the deliveries are acknowledged."""
        tally: dict[str, int] = {}
        for message, verdict in zip(messages, verdicts, strict=True):
            metrics.case_events.labels("amqp", verdict.kind, verdict.verdict).inc()
            tally[verdict.verdict] = tally.get(verdict.verdict, 0) + 1
            if verdict.refused:
                log.warning("case event dead-lettered", **_ids(message, verdict))
        self.applied += tally.get(APPLIED, 0)
        self.settled += len(messages)
        refused = len(messages) - tally.get(APPLIED, 0) - tally.get(REPEAT, 0)
        log.info(
            "case events settled",
            applied=tally.get(APPLIED, 0),
            repeats=tally.get(REPEAT, 0),
            refused=refused,
            redelivered=sum(1 for m in messages if m.redelivered),
        )


def _ids(message: Message, verdict: Verdict) -> dict[str, Any]:
    """A refusal's log fields: ids, unit, kind, code and sender; never the reason's text."""
    return {
        "event_id": None if verdict.event_id is None else str(verdict.event_id),
        "report_id": None if verdict.report_id is None else str(verdict.report_id),
        "unit": verdict.unit,
        "kind": verdict.kind,
        "code": verdict.verdict,
        "client": delivered(message).client,
        "redelivered": bool(message.redelivered),
    }
