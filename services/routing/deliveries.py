"""A delivery of the routing queue as the router reads it and checks it against the stored
report (or why it must be dead-lettered, and whose report it is), and how deliveries are
acknowledged (one `multiple` acknowledgement per channel once a batch is settled).

A delivery's report is read only as far as routing needs (`engine.RoutingView`) and passed on
as the bytes it came in; the whole report is decoded, and so checked against the contract,
only where the outcome hangs on it: a report the view cannot read, a delivery refused for
another reason (a report that breaks the contract is refused as such first), and the
comparison with a report stored before the intake kept its message's digest."""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from dataclasses import dataclass

import aio_pika
import aiormq
import asyncpg
import msgspec

from schemas.decision import Decision
from schemas.envelope import REPORT_ACCEPTED_TYPE, ReportAcceptedWire
from schemas.report import Report
from services.common import broker, db
from services.common.rules.engine import Routable, RoutingView
from services.routing.store import StoredReport

# Failures that pass: a database or broker failure puts the reports back after a pause.
TRANSIENT = (
    asyncpg.PostgresError,
    *db.CONNECTION_ERRORS,
    *broker.BROKER_ERRORS,
)
UNKNOWN_REPORT = "no such report in the intake's database"
REPORT_DIFFERS = "the message differs from the report as the intake stored it"
_QUOTED = re.compile(r"'[^']*'")
_UNKNOWN_FIELD = re.compile(r"unknown field `[^`]*`")


accepted_decoder = msgspec.json.Decoder(ReportAcceptedWire)
report_decoder = msgspec.json.Decoder(Report)
view_decoder = msgspec.json.Decoder(RoutingView)


def redacted(exc: Exception | str) -> str:
    # Validation messages may quote a value or name an unknown key; either may be personal
    # data, so they go.
    return _UNKNOWN_FIELD.sub("unknown field `…`", _QUOTED.sub("'…'", str(exc)))[:300]


def message_report_id(message_id: str | None) -> uuid.UUID | None:
    """The report id a message names as its `message_id` (the relay sends every report so),
    or None when it names none."""
    try:
        return uuid.UUID(message_id) if message_id else None
    except ValueError:
        return None


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
    envelope: ReportAcceptedWire
    report: Routable  # what routing reads, or the whole report where it was decoded
    decision: Decision | None = None
    fresh: bool = False  # decided now and stored, not found stored


@dataclass(frozen=True, slots=True)
class Refused:
    """A delivery the router cannot route: a fixed `code`, a `reason` free of personal data
    (the x-fsi-reason header), and the report whose own message it is, when one is named
    (recorded, so the report's status says so)."""

    code: str
    reason: str
    report_id: uuid.UUID | None = None


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


_UNREADABLE = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError)


def _unreadable(
    message: aio_pika.abc.AbstractIncomingMessage,
    envelope: ReportAcceptedWire | None,
    exc: Exception,
) -> Refused:
    code = "contract" if isinstance(exc, msgspec.ValidationError) else "undecodable"
    reason = f"not a {REPORT_ACCEPTED_TYPE} message: {redacted(exc)}"
    # Whose message it is: the report its envelope names, unless its id names another
    # (then it is neither's own); without an envelope, the report its id names.
    named = message_report_id(message.message_id)
    if envelope is not None:
        own = envelope.report_id if named in (None, envelope.report_id) else None
        return Refused(code, reason, own)
    return Refused(code, reason, named)


def _whole(
    message: aio_pika.abc.AbstractIncomingMessage, envelope: ReportAcceptedWire
) -> Report | Refused:
    """The message's whole report, decoded and checked against the contract, or why not."""
    try:
        return report_decoder.decode(envelope.report)
    except _UNREADABLE as exc:
        return _unreadable(message, envelope, exc)


def read_delivery(
    message: aio_pika.abc.AbstractIncomingMessage, received: float
) -> Delivery | Refused:
    """The delivery with what routing reads of its report, or why it must be dead-lettered."""
    try:
        envelope = accepted_decoder.decode(message.body)
    except _UNREADABLE as exc:
        return _unreadable(message, None, exc)
    report: Routable | Refused
    try:
        report = view_decoder.decode(envelope.report)
    except _UNREADABLE:
        report = _whole(message, envelope)  # the contract's own words for what is wrong
        if isinstance(report, Refused):
            return report
    if message.message_id and message.message_id != str(envelope.report_id):
        # Its id and its body name two reports: the relay sends a report under its own id,
        # so this is neither report's own message, and neither's status changes (unless
        # its report breaks the contract, which is said first).
        report = report if isinstance(report, Report) else _whole(message, envelope)
        if isinstance(report, Refused):
            return report
        return Refused("message_id_mismatch", "message_id differs from the report id")
    return Delivery(message, received, envelope, report)


def _decoded(delivery: Delivery) -> Report | Refused:
    """The delivery's whole report (decoded now unless it was already), or why it breaks
    the contract."""
    if isinstance(delivery.report, Report):
        return delivery.report
    whole = _whole(delivery.message, delivery.envelope)
    if isinstance(whole, Report):
        delivery.report = whole
    return whole


def _refused(delivery: Delivery, refused: Refused) -> Refused:
    """`refused`, unless the delivery's report breaks the contract: that is said first, as
    when every report was decoded whole on reading."""
    whole = _decoded(delivery)
    return whole if isinstance(whole, Refused) else refused


def as_stored(delivery: Delivery, stored: StoredReport | None) -> Refused | None:
    """None when the delivery carries its report exactly as the intake stored it, with the
    decision that stands for it, if one does, set on the delivery; else why it must be
    dead-lettered. The message is only a trigger: anyone able to publish to the reports
    exchange could put another body under a real report id.

    The body must be the very message the intake published (its SHA-256). For a report
    stored before the intake kept that digest, whose copy of the message is cleared, the
    body's report must equal the stored one field by field, and the stored one is what
    goes on: a body that decodes alike may still differ (key order, a key given twice)."""
    differs = Refused("report_differs", REPORT_DIFFERS, delivery.envelope.report_id)
    if stored is None:
        return _refused(delivery, Refused("unknown_report", UNKNOWN_REPORT))
    if stored.message_sha256 is not None:
        # The very message the intake published carries a report it checked: no need to
        # decode the whole report again.
        if hashlib.sha256(delivery.message.body).digest() != stored.message_sha256:
            return _refused(delivery, differs)
    elif stored.report is not None:
        body = _decoded(delivery)
        if isinstance(body, Refused):
            return body
        try:
            kept = report_decoder.decode(stored.report)
        except _UNREADABLE as exc:  # a stored report of an older contract: a person looks
            reason = f"the stored report does not read as the contract: {redacted(exc)}"
            return Refused("contract", reason, delivery.envelope.report_id)
        if kept != body:
            return differs
        delivery.report = kept
        delivery.envelope.report = msgspec.Raw(stored.report.encode())
    else:  # the statement reads one or the other; nothing to check against is no check
        return _refused(delivery, differs)
    delivery.decision = stored.decision
    return None
