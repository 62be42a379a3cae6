"""The router's consumer: decide, store the decision, publish the case, then acknowledge.

At-least-once in, exactly-once in effect: the decision is stored under the report id
before anything is published, and a redelivered report republishes the stored decision
(same `message_id`), never a new one. A message is only a trigger: the router decides on,
and publishes, the report as the intake stored it, and a body that differs from it is
dead-lettered (`deliveries.as_stored`). A message that cannot be read or routed is published
to the dead-letter exchange with its reason, recorded when it is a report's own message (the
report's status then says so), and acknowledged, so it never loops. Deliveries are
routed in batches: one statement, the cases published together, one statement recording
what the queues confirmed and what the broker returned, one acknowledgement. A returned
case (no queue for its unit) is counted, logged and put to wait in PostgreSQL, from where
`waiting` publishes it again; it is never recorded as routed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import aiormq
import asyncpg
import msgspec

from schemas.decision import TRIAGE_UNIT, Decision
from services.common.logging import get_logger
from services.common.topology import Topology
from services.routing import metrics, store
from services.routing.cases import CaseWire, publish_case, returned, unroutable_target
from services.routing.deliveries import (
    TRANSIENT,
    UNKNOWN_REPORT,
    Delivery,
    Pending,
    Refused,
    ack,
    ack_all,
    as_stored,
    read_delivery,
    report_id_or_not,
)
from services.routing.engine import decide
from services.routing.rules import RuleSet

log = get_logger("router")
# How long a returned case waits before it is published again: doubling from the first to
# the last, so a repaired queue gets its cases within a minute and a missing one costs little.
FIRST_WAIT_SECONDS = 2.0
MAX_WAIT_SECONDS = 60.0


def _undecided(exc: BaseException) -> str:
    # The exception's type only: its message may quote the report.
    return f"the router could not decide or store a decision: {type(exc).__name__}"


def triage_reason(decision: Decision, quality_issues: bool) -> str | None:
    """Why a decision went to triage, as a fixed code (`rule` when a rule sent it there)."""
    if decision.unit != TRIAGE_UNIT:
        return None
    if decision.district is None:
        return "no_district"
    return "quality_issues" if quality_issues else "rule"


def count_decision(decision: Decision, quality_issues: bool) -> None:
    """Count a decision whose case a queue confirmed for the first time."""
    metrics.decisions.labels(decision.district or "", decision.unit, decision.priority.value).inc()
    for rule in decision.matched_rules:
        metrics.rule_matches.labels(rule).inc()
    reason = triage_reason(decision, quality_issues)
    if reason is not None:
        metrics.triage.labels(reason).inc()


def case_headers(decision: Decision) -> dict[str, Any]:
    """What a unit's consumer can see without reading the body (no personal data). The unit
    is the routing key already, and each header costs encoding on every message. The
    deadline is in the body's one time form: RFC 3339 in UTC with `Z`, as msgspec writes it."""
    headers: dict[str, Any] = {
        "x-fsi-priority": decision.priority.value,
        "x-fsi-ruleset": decision.ruleset_version,
    }
    if decision.deadline:
        headers["x-fsi-deadline"] = msgspec.to_builtins(decision.deadline.due_at.astimezone(dt.UTC))
    return headers


@dataclass
class Router:
    """Routes delivered reports in batches; `ruleset` may be swapped at any time (hot reload).

    Deliveries wait in order while earlier batches are on their way, then go together: one
    statement stores their decisions, their cases are published at once, and one
    acknowledgement with `multiple` covers the batch once every earlier batch is settled.
    """

    pool: asyncpg.Pool
    topology: Topology
    ruleset: RuleSet
    retry_seconds: float = 2.0
    max_batch: int = 64
    batches_in_flight: int = 2
    routed: int = 0  # reports whose case a queue confirmed, since start
    _channel: aio_pika.abc.AbstractChannel | None = None
    _cases: str = ""  # the cases exchange's name
    _dead_letters: aio_pika.abc.AbstractExchange | None = None
    _pending: list[Pending] = field(default_factory=list)
    _batches: set[asyncio.Task[None]] = field(default_factory=set)
    _draining: int = 0  # batch tasks that will still look at `_pending`
    _settled: asyncio.Future[None] | None = None  # the latest batch's, set once settled

    async def bind(self, channel: aio_pika.abc.AbstractChannel) -> None:
        self._cases = (await channel.get_exchange(self.topology.cases_exchange.name)).name
        self._dead_letters = await channel.get_exchange(self.topology.dead_letter_exchange.name)
        self._channel = channel

    async def handle(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
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
                    await self._route(batch, previous)
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

    async def _route(self, batch: list[Pending], previous: asyncio.Future[None] | None) -> None:
        """Decide (or find the stored decisions), store, publish with confirm, acknowledge."""
        deliveries = []
        try:
            for message, received in batch:
                read = read_delivery(message, received)
                if isinstance(read, Delivery):
                    deliveries.append(read)
                else:
                    await self._dead_letter(message, read)
            deliveries = await self._decide(deliveries)
            channel, exchange = await self.case_channel()
            results = await asyncio.gather(
                *(self._publish(channel, exchange, d) for d in deliveries),
                return_exceptions=True,
            )
            outcomes = list(zip(deliveries, results, strict=True))
            confirmed = [d for d, r in outcomes if r is None]
            bounced = [d for d, r in outcomes if returned(r)]
            # Recorded before the acknowledgement: a report acknowledged is one whose case a
            # queue confirmed, or one waiting in PostgreSQL for its queue.
            returns = await self._record(confirmed, bounced)
        except TRANSIENT as exc:
            await self._retry_later([m for m, _ in batch if not m.processed], exc)
            return
        done = confirmed + bounced
        failed = [(d.message, r) for d, r in outcomes if r is not None and not returned(r)]
        if failed:
            # One by one, so that no `multiple` covers a report whose case is not confirmed.
            for d in done:
                await ack(d.message)
            await self._retry_later([m for m, _ in failed], failed[0][1])
        else:
            if previous is not None:
                await asyncio.shield(previous)
            await ack_all([d.message for d in done])
        # Past this point nothing may raise: a `multiple` acknowledgement leaves the messages
        # it covers looking unprocessed, and nacking one of those would close the channel.
        try:
            self._count_routed(confirmed)
            self._count_returned(bounced, returns)
        except Exception:
            log.error("counting routed reports failed", exc_info=True)

    async def case_channel(self) -> tuple[aiormq.abc.AbstractChannel, str]:
        """The confirming channel cases are published on, and the cases exchange's name."""
        assert self._channel is not None
        return await self._channel.get_underlay_channel(), self._cases

    async def _record(
        self, confirmed: list[Delivery], bounced: list[Delivery]
    ) -> dict[uuid.UUID, int]:
        if not confirmed and not bounced:
            return {}
        return await store.record_outcomes(
            self.pool,
            [(d.envelope.report_id, _unit(d)) for d in confirmed],
            [(d.envelope.report_id, _unit(d)) for d in bounced],
            FIRST_WAIT_SECONDS,
            MAX_WAIT_SECONDS,
        )

    async def _decide(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Each delivery that carries its report as stored, with the decision that stands
        for it: the stored one for a report that has one, else a new one, stored now. One
        statement reads the batch's stored reports. Reports unknown to the database, a body
        that differs from the stored report, and reports that cannot be decided or stored
        are dead-lettered and left out."""
        if not deliveries:
            return []
        stored = await store.stored_reports(self.pool, [d.envelope.report_id for d in deliveries])
        now = dt.datetime.now(dt.UTC)
        ruleset = self.ruleset  # one rule set for the whole batch, even across a reload
        fresh: list[tuple[Delivery, Decision]] = []
        for d in deliveries:
            refused = as_stored(d, stored.get(d.envelope.report_id))
            if refused is not None:  # it has no decision, so it is left out below
                await self._dead_letter(d.message, refused)
                continue
            if d.decision is None:
                try:
                    with metrics.decision_seconds.time():
                        decision = decide(d.report, d.envelope.report_id, ruleset, now)
                except Exception as exc:  # a fault of the rules or the engine, not of the batch
                    log.error("no decision", report_id=str(d.envelope.report_id), exc_info=True)
                    refused = Refused("decision_failed", _undecided(exc), d.envelope.report_id)
                    await self._dead_letter(d.message, refused)
                    continue
                fresh.append((d, decision))
        if not fresh:
            return [d for d in deliveries if d.decision is not None]
        standing = await store.store_decisions(self.pool, [x for _, x in fresh])
        for (d, mine), result in zip(fresh, standing, strict=True):
            if isinstance(result, asyncpg.ForeignKeyViolationError):
                # Not a report of this intake's database: retrying cannot help.
                await self._dead_letter(d.message, Refused("unknown_report", UNKNOWN_REPORT))
            elif isinstance(result, BaseException):
                refused = Refused("decision_failed", _undecided(result), d.envelope.report_id)
                await self._dead_letter(d.message, refused)
            else:
                d.decision, d.fresh = result, result is mine
        return [d for d in deliveries if d.decision is not None]

    async def _publish(
        self, channel: aiormq.abc.AbstractChannel, exchange: str, delivery: Delivery
    ) -> None:
        """The delivery's case to its unit's queue, confirmed (or returned: `cases`)."""
        decision = delivery.decision
        assert decision is not None
        case = CaseWire(delivery.envelope.report_id, delivery.envelope.report, decision)
        await publish_case(channel, exchange, case, case_headers(decision))

    async def _retry_later(
        self, messages: list[aio_pika.abc.AbstractIncomingMessage], exc: BaseException
    ) -> None:
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

    def _count_routed(self, done: list[Delivery]) -> None:
        now = time.perf_counter()
        for d in done:
            decision = d.decision
            assert decision is not None
            metrics.handle_seconds.observe(now - d.received)
            if d.fresh:
                count_decision(decision, bool(d.report.quality_issues))
            if d.message.redelivered:
                metrics.redeliveries.inc()
            log.info(
                "report routed",
                report_id=str(d.envelope.report_id),
                unit=decision.unit,
                priority=decision.priority.value,
                rules=decision.matched_rules,
                redelivered=bool(d.message.redelivered),
            )
        self.routed += len(done)

    def _count_returned(self, bounced: list[Delivery], returns: dict[uuid.UUID, int]) -> None:
        for d in bounced:
            count_returned(
                self.topology, d.envelope.report_id, _unit(d), returns.get(d.envelope.report_id)
            )

    async def _dead_letter(
        self, message: aio_pika.abc.AbstractIncomingMessage, refused: Refused
    ) -> None:
        """To the dead-letter queue (confirmed), recorded for the report whose own message it
        is, then acknowledged: a report's status says `dead_lettered` only once the queue
        holds it, and a failure before the acknowledgement puts it back to be tried again."""
        assert self._dead_letters is not None
        await self._dead_letters.publish(
            aio_pika.Message(
                message.body,
                message_id=message.message_id,
                type=message.type,
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers={
                    "x-fsi-reason": refused.reason,
                    "x-fsi-original-queue": self.topology.routing_queue.name,
                },
            ),
            routing_key="",
            timeout=10,
        )
        if refused.report_id is not None:
            await store.record_dead_letter(
                self.pool, refused.report_id, refused.code, refused.reason
            )
        await message.ack()
        metrics.dead_letters.labels(refused.code).inc()
        log.warning(
            "message dead-lettered",
            message_id=report_id_or_not(message.message_id),
            reason=refused.reason,
        )


def _unit(delivery: Delivery) -> str:
    assert delivery.decision is not None
    return delivery.decision.unit


def count_returned(
    topology: Topology, report_id: uuid.UUID, unit: str, returns: int | None
) -> None:
    """Count and log a case the broker returned: no queue is bound for its unit. `returns`
    is how often it has been returned (None: its queue had confirmed it before)."""
    metrics.unroutable.labels(unit).inc()
    log.warning(
        "case returned: no queue for its unit; it waits and is published again",
        report_id=str(report_id),
        unit=unit,
        queue=topology.case_queue(unit).name,
        returns=returns,
    )
