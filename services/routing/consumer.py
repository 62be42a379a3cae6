"""The router's consumer: decide, store the decision, publish the case, then acknowledge.

At-least-once in, exactly-once in effect: the decision is stored under the report id
before anything is published, and a redelivered report republishes the stored decision
(same `message_id`), never a new one. A message that cannot be read is published to the
dead-letter exchange with its reason and acknowledged, so it never loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import asyncpg
import msgspec

from schemas.decision import TRIAGE_UNIT, Decision
from schemas.envelope import CASE_ROUTED_TYPE, CONTENT_TYPE, REPORT_ACCEPTED_TYPE
from schemas.report import Report
from services.common.logging import get_logger
from services.common.topology import Topology
from services.routing import metrics, store
from services.routing.engine import decide
from services.routing.rules import RuleSet

log = get_logger("router")
TRANSIENT = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    aio_pika.exceptions.AMQPError,
    ConnectionError,
    OSError,
    TimeoutError,
)
_QUOTED = re.compile(r"'[^']*'")
_UNKNOWN_FIELD = re.compile(r"unknown field `[^`]*`")
_case_encoder = msgspec.json.Encoder()


class _CaseWire(msgspec.Struct):
    """`CaseRouted` as written: the report spliced in as received, not re-encoded."""

    report_id: uuid.UUID
    report: msgspec.Raw
    decision: Decision


class _AcceptedWire(msgspec.Struct):
    """`ReportAccepted` as read: the envelope, its report kept raw to pass on unchanged."""

    report_id: uuid.UUID
    accepted_at: dt.datetime
    source_format: str
    report: msgspec.Raw


_accepted_decoder = msgspec.json.Decoder(_AcceptedWire)
_report_decoder = msgspec.json.Decoder(Report)


def _reason(exc: Exception) -> str:
    # Validation messages may quote a value or name an unknown key; either may be personal
    # data, so they go.
    return _UNKNOWN_FIELD.sub("unknown field `…`", _QUOTED.sub("'…'", str(exc)))[:300]


def _report_id_or_not(message_id: str | None) -> str | None:
    """The message id for a log line when it is a report id; any other string a publisher
    chose may hold anything, personal data included."""
    try:
        return str(uuid.UUID(message_id)) if message_id else None
    except ValueError:
        return "(not a report id)"


def triage_reason(decision: Decision, quality_issues: bool) -> str | None:
    """Why a decision went to triage, as a fixed code (`rule` when a rule sent it there)."""
    if decision.unit != TRIAGE_UNIT:
        return None
    if decision.district is None:
        return "no_district"
    return "quality_issues" if quality_issues else "rule"


def _count(decision: Decision, quality_issues: bool) -> None:
    metrics.decisions.labels(decision.district or "", decision.unit, decision.priority.value).inc()
    for rule in decision.matched_rules:
        metrics.rule_matches.labels(rule).inc()
    reason = triage_reason(decision, quality_issues)
    if reason is not None:
        metrics.triage.labels(reason).inc()


def case_headers(decision: Decision) -> dict[str, Any]:
    """What a unit's consumer can see without reading the body (no personal data). The unit
    is the routing key already, and each header costs encoding on every message."""
    headers: dict[str, Any] = {
        "x-fsi-priority": decision.priority.value,
        "x-fsi-ruleset": decision.ruleset_version,
    }
    if decision.deadline:
        headers["x-fsi-deadline"] = decision.deadline.due_at.isoformat()
    return headers


@dataclass
class Router:
    """Routes each delivered report; `ruleset` may be swapped at any time (hot reload)."""

    pool: asyncpg.Pool
    topology: Topology
    ruleset: RuleSet
    cases: aio_pika.abc.AbstractExchange | None = None
    dead_letters: aio_pika.abc.AbstractExchange | None = None
    retry_seconds: float = 2.0
    writer: store.DecisionWriter = field(init=False)
    routed: int = 0  # reports acknowledged after routing, since start

    def __post_init__(self) -> None:
        self.writer = store.DecisionWriter(self.pool)

    async def bind(self, channel: aio_pika.abc.AbstractChannel) -> None:
        self.cases = await channel.get_exchange(self.topology.cases_exchange.name)
        self.dead_letters = await channel.get_exchange(self.topology.dead_letter_exchange.name)

    async def handle(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        """One delivery; on a database or broker failure it goes back to the queue, later."""
        try:
            with metrics.handle_seconds.time():
                await self._route(message)
        except TRANSIENT as exc:
            log.warning(
                "routing failed; the report goes back to the queue", error=type(exc).__name__
            )
            await asyncio.sleep(self.retry_seconds)
            with contextlib.suppress(*TRANSIENT):
                await message.nack(requeue=True)

    async def _route(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        """Decide (or find the stored decision), publish with confirm, then acknowledge."""
        try:
            envelope = _accepted_decoder.decode(message.body)
            report = _report_decoder.decode(envelope.report)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
            code = "contract" if isinstance(exc, msgspec.ValidationError) else "undecodable"
            reason = f"not a {REPORT_ACCEPTED_TYPE} message: {_reason(exc)}"
            await self._dead_letter(message, code, reason)
            return
        if message.message_id and message.message_id != str(envelope.report_id):
            reason = "message_id differs from the report id"
            await self._dead_letter(message, "message_id_mismatch", reason)
            return
        # A first delivery is decided and inserted at once (one round trip); the insert
        # answers with the stored decision when there is one already.
        decision = None
        if message.redelivered:
            decision = await store.stored_decision(self.pool, envelope.report_id)
        fresh = None
        if decision is None:
            now = dt.datetime.now(dt.UTC)
            with metrics.decision_seconds.time():
                fresh = decide(report, envelope.report_id, self.ruleset, now)
            try:
                decision = await self.writer.store(fresh)
            except asyncpg.ForeignKeyViolationError:
                # Not a report of this intake's database: retrying cannot help.
                reason = "no such report in the intake's database"
                await self._dead_letter(message, "unknown_report", reason)
                return
        await self._publish(envelope, decision)
        await message.ack()
        self.routed += 1
        if decision is fresh:
            _count(decision, bool(report.quality_issues))
        if message.redelivered:
            metrics.redeliveries.inc()
        log.info(
            "report routed",
            report_id=str(envelope.report_id),
            unit=decision.unit,
            priority=decision.priority.value,
            rules=decision.matched_rules,
            redelivered=bool(message.redelivered),
        )

    async def _publish(self, envelope: _AcceptedWire, decision: Decision) -> None:
        assert self.cases is not None
        body = _case_encoder.encode(_CaseWire(envelope.report_id, envelope.report, decision))
        await self.cases.publish(
            aio_pika.Message(
                body,
                message_id=str(envelope.report_id),
                type=CASE_ROUTED_TYPE,
                content_type=CONTENT_TYPE,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                priority=decision.amqp_priority,
                headers=case_headers(decision),
                timestamp=decision.decided_at,
            ),
            routing_key=decision.unit,
            timeout=10,
        )

    async def _dead_letter(
        self, message: aio_pika.abc.AbstractIncomingMessage, code: str, reason: str
    ) -> None:
        assert self.dead_letters is not None
        await self.dead_letters.publish(
            aio_pika.Message(
                message.body,
                message_id=message.message_id,
                type=message.type,
                content_type=message.content_type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers={
                    "x-fsi-reason": reason,
                    "x-fsi-original-queue": self.topology.routing_queue.name,
                },
            ),
            routing_key="",
            timeout=10,
        )
        await message.ack()
        metrics.dead_letters.labels(code).inc()
        log.warning(
            "message dead-lettered",
            message_id=_report_id_or_not(message.message_id),
            reason=reason,
        )
