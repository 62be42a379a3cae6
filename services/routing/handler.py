"""Routing one batch: read, decide, store the decisions, publish the cases, dead-letter.

At-least-once in, exactly-once in effect: the decision is stored under the report id
before anything is published, and a redelivered report republishes the stored decision
(same `message_id`), never a new one. A message is only a trigger: the router decides on,
and publishes, the report as the intake stored it, and a body that differs from it is
dead-lettered (`deliveries.as_stored`). A message that cannot be read or routed is published
to the dead-letter exchange with its reason, recorded when it is a report's own message (the
report's status then says so), and acknowledged, so it never loops. A batch costs one
statement reading the stored reports, one storing the new decisions, the cases published
together and one statement recording what the queues confirmed and what the broker
returned (a triage case confirmed for the first time goes on the people's work list in
that statement: `triage_entry`); the consumer (`consumer.Sequencer`) then acknowledges. A
returned case (no queue for its unit) is counted, logged and put to wait in PostgreSQL, from
where `waiting` publishes it again; it is never recorded as routed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
import uuid
from dataclasses import dataclass

import aio_pika
import aiormq
import asyncpg

from schemas.decision import TRIAGE_UNIT, Decision
from services.common.logging import get_logger
from services.common.rules.engine import decide
from services.common.rules.ruleset import RuleSet
from services.common.topology import Topology
from services.routing import metrics, outcome_store, store
from services.routing.cases import (
    FIRST_WAIT_SECONDS,
    MAX_WAIT_SECONDS,
    CaseWire,
    case_headers,
    publish_case,
    returned,
)
from services.routing.consumer import Outcome
from services.routing.deadletters import to_dead_letters
from services.routing.deliveries import (
    UNKNOWN_REPORT,
    Delivery,
    Pending,
    Refused,
    as_stored,
    read_delivery,
    report_id_or_not,
)
from services.routing.triage_entry import work_entry

log = get_logger("router")


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


@dataclass
class Router:
    """Routes a batch of deliveries (`route`, the consumer's route callable); `ruleset` may
    be swapped at any time (hot reload)."""

    pool: asyncpg.Pool
    topology: Topology
    ruleset: RuleSet
    routed: int = 0  # reports whose case a queue confirmed, since start
    _channel: aio_pika.abc.AbstractChannel | None = None
    _cases: str = ""  # the cases exchange's name
    _dead_letters: aio_pika.abc.AbstractExchange | None = None

    async def bind(self, channel: aio_pika.abc.AbstractChannel) -> None:
        """Publish cases and dead letters on this confirming channel."""
        self._cases = (await channel.get_exchange(self.topology.cases_exchange.name)).name
        self._dead_letters = await channel.get_exchange(self.topology.dead_letter_exchange.name)
        self._channel = channel

    async def route(self, batch: list[Pending]) -> Outcome:
        """Decide (or find the stored decisions), store, publish with confirm, record; the
        deliveries to acknowledge and those to put back. Raises a database or broker error
        (`deliveries.TRANSIENT`) when the batch must be tried again."""
        deliveries = []
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
        return Outcome(
            done=[d.message for d in confirmed + bounced],
            failed=[(d.message, r) for d, r in outcomes if r is not None and not returned(r)],
            acknowledged=functools.partial(self._count, confirmed, bounced, returns),
        )

    async def case_channel(self) -> tuple[aiormq.abc.AbstractChannel, str]:
        """The confirming channel cases are published on, and the cases exchange's name."""
        assert self._channel is not None
        return await self._channel.get_underlay_channel(), self._cases

    async def _record(
        self, confirmed: list[Delivery], bounced: list[Delivery]
    ) -> dict[uuid.UUID, int]:
        if not confirmed and not bounced:
            return {}
        rules = self.ruleset
        # A triage case confirmed for the first time waits for a person (the work list).
        entries = (
            work_entry(d.decision, triage_reason(d.decision, bool(d.report.quality_issues)), rules)
            for d in confirmed
            if d.decision is not None
        )
        return await outcome_store.record_outcomes(
            self.pool,
            [(d.envelope.report_id, _unit(d)) for d in confirmed],
            [(d.envelope.report_id, _unit(d)) for d in bounced],
            FIRST_WAIT_SECONDS,
            MAX_WAIT_SECONDS,
            [e for e in entries if e is not None],
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

    def _count(
        self, confirmed: list[Delivery], bounced: list[Delivery], returns: dict[uuid.UUID, int]
    ) -> None:
        """Count and log the batch's cases once their deliveries are acknowledged."""
        now = time.perf_counter()
        for d in confirmed:
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
        self.routed += len(confirmed)
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
        queue = self.topology.routing_queue.name
        await to_dead_letters(self._dead_letters, message, refused.reason, queue)
        if refused.report_id is not None:
            await outcome_store.record_dead_letter(
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
