"""Publishing one case to its unit's queue: mandatory, persistent, confirmed, or returned.

A case is routed only when a queue confirmed it. With `mandatory` RabbitMQ returns a case
no queue is bound for (basic.return, then the confirm); aiormq raises that as `PublishError`,
which `returned` recognises, so a missing unit queue is never taken for a delivery.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import aio_pika
import aiormq
import msgspec

from schemas.decision import Decision
from schemas.envelope import CASE_ROUTED_TYPE, CONTENT_TYPE

_encoder = msgspec.json.Encoder()
# How long a returned case waits before it is published again: doubling from the first to
# the last, so a repaired queue gets its cases within a minute and a missing one costs little.
FIRST_WAIT_SECONDS = 2.0
MAX_WAIT_SECONDS = 60.0


class CaseWire(msgspec.Struct):
    """`CaseRouted` as written: the report spliced in as it was read, not re-encoded."""

    report_id: uuid.UUID
    report: msgspec.Raw
    decision: Decision


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


async def publish_case(
    channel: aiormq.abc.AbstractChannel,
    exchange: str,
    case: CaseWire,
    headers: dict[str, Any],
    message_id: str | None = None,
) -> None:
    """The case to its unit's queue (the routing key is the unit), confirmed with Basic.Ack;
    its `message_id` is the report id (a case the rules decided) unless given (a person's
    case: the deciding act's id).

    Raises `aiormq.exceptions.PublishError` when the broker returned it (no queue for the
    unit), `DeliveryError` for a negative confirm; its properties are built directly, since
    an `aio_pika.Message` per case was a fifth of the cost of publishing it."""
    decision = case.decision
    confirmation = await channel.basic_publish(
        _encoder.encode(case),
        exchange=exchange,
        routing_key=decision.unit,
        properties=aiormq.spec.Basic.Properties(
            content_type=CONTENT_TYPE,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT.value,
            headers=headers,
            message_id=message_id or str(case.report_id),
            message_type=CASE_ROUTED_TYPE,
            priority=decision.amqp_priority,
            timestamp=decision.decided_at,
        ),
        mandatory=True,
        timeout=10,
    )
    if not isinstance(confirmation, aiormq.spec.Basic.Ack):  # a channel without confirms
        raise aiormq.exceptions.DeliveryError(None, confirmation)  # type: ignore[arg-type]


def returned(outcome: object) -> bool:
    """Whether a publish's outcome is the broker returning the case: no queue for its unit."""
    return isinstance(outcome, aiormq.exceptions.PublishError)


def unroutable_target(exc: BaseException) -> str | None:
    """Where a returned message was going (`exchange/routing key`), for a log line; None for
    any other failure."""
    if not returned(exc):
        return None
    frame = getattr(exc, "frame", None)
    return f"{getattr(frame, 'exchange', '?')}/{getattr(frame, 'routing_key', '?')}"
