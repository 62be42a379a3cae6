"""A delivery of the routing queue as the router reads it, and how deliveries are
acknowledged (one `multiple` acknowledgement per channel once a batch is settled)."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import uuid
from dataclasses import dataclass

import aio_pika
import aiormq
import asyncpg
import msgspec

from schemas.decision import Decision
from schemas.report import Report
from services.common import db

# Failures that pass: a database or broker failure puts the reports back after a pause.
TRANSIENT = (
    asyncpg.PostgresError,
    *db.CONNECTION_ERRORS,
    aio_pika.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
)
_QUOTED = re.compile(r"'[^']*'")
_UNKNOWN_FIELD = re.compile(r"unknown field `[^`]*`")


class AcceptedWire(msgspec.Struct):
    """`ReportAccepted` as read: the envelope, its report kept raw to pass on unchanged."""

    report_id: uuid.UUID
    accepted_at: dt.datetime
    source_format: str
    report: msgspec.Raw


accepted_decoder = msgspec.json.Decoder(AcceptedWire)
report_decoder = msgspec.json.Decoder(Report)


def redacted(exc: Exception) -> str:
    # Validation messages may quote a value or name an unknown key; either may be personal
    # data, so they go.
    return _UNKNOWN_FIELD.sub("unknown field `…`", _QUOTED.sub("'…'", str(exc)))[:300]


def report_id_or_not(message_id: str | None) -> str | None:
    """The message id for a log line when it is a report id; any other string a publisher
    chose may hold anything, personal data included."""
    try:
        return str(uuid.UUID(message_id)) if message_id else None
    except ValueError:
        return "(not a report id)"


@dataclass(slots=True)
class Delivery:
    """A readable delivery on its way through a batch."""

    message: aio_pika.abc.AbstractIncomingMessage
    received: float  # perf_counter() at delivery
    envelope: AcceptedWire
    report: Report
    decision: Decision | None = None
    fresh: bool = False  # decided now and stored, not found stored


Pending = tuple[aio_pika.abc.AbstractIncomingMessage, float]


async def ack(message: aio_pika.abc.AbstractIncomingMessage, multiple: bool = False) -> None:
    """Acknowledge; a delivery whose channel is gone went back to the queue with it."""
    with contextlib.suppress(*TRANSIENT):
        await message.ack(multiple=multiple)


async def ack_all(messages: list[aio_pika.abc.AbstractIncomingMessage]) -> None:
    """Acknowledge settled deliveries: one `multiple` acknowledgement per channel, on its
    latest delivery (a robust connection may have opened a new channel meanwhile)."""
    latest: dict[int, aio_pika.abc.AbstractIncomingMessage] = {}
    for message in messages:
        try:
            key = id(message.channel)
        except aiormq.exceptions.ChannelInvalidStateError:
            continue  # its channel is gone, and the broker requeued the delivery
        if key not in latest or (message.delivery_tag or 0) > (latest[key].delivery_tag or 0):
            latest[key] = message
    for message in latest.values():
        await ack(message, multiple=True)
