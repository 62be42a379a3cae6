"""A case event: made from the command line, sent over AMQP (confirmed) or HTTP (answered)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

import aio_pika
import aio_pika.abc
import httpx

from clients.fsi_unit import contract


class EventProblem(ValueError):
    """An event the contract does not allow, said with the option at fault."""


@dataclass(frozen=True, slots=True)
class Event:
    """One case event as the contract's `CaseEvent` (over HTTP: without `report_id`)."""

    report_id: str
    event_id: str
    unit: str
    kind: str
    occurred_at: str
    reason: str | None = None
    outcome: str | None = None

    def body(self, with_report: bool) -> dict[str, Any]:
        """The JSON body: `CaseEvent` with the report id (AMQP), `CaseEventBody` without."""
        made: dict[str, Any] = {
            "event_id": self.event_id,
            "unit": self.unit,
            "kind": self.kind,
            "occurred_at": self.occurred_at,
        }
        if self.reason is not None:
            made["reason"] = self.reason
        if self.outcome is not None:
            made["outcome"] = self.outcome
        if with_report:
            made["report_id"] = self.report_id
        return made


def _uuid(value: str, option: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise EventProblem(f"{option}: not a uuid: {value[:40]!r}") from None


def make_event(
    report_id: str,
    kind: str,
    unit: str,
    reason: str | None = None,
    outcome: str | None = None,
    at: str | None = None,
    event_id: str | None = None,
    now: dt.datetime | None = None,
) -> Event:
    """The event the options name: a new uuid4 event id unless given, the time now in UTC
    unless given (then ISO 8601 with an offset). Raises `EventProblem` for what the contract
    refuses: a reason on anything but `returned` (or none there), an outcome on anything but
    `prosecution_decision` and `closed` (or none there), a time without an offset."""
    if (kind == "returned") != (reason is not None):
        raise EventProblem(
            "--reason is required for `returned`, and only for it: "
            + ", ".join(contract.RETURN_REASONS)
        )
    if (kind in contract.WITH_OUTCOME) != (outcome is not None):
        raise EventProblem(
            "--outcome is required for `prosecution_decision` and `closed`, and only for them: "
            + ", ".join(contract.OUTCOMES)
        )
    if at is None:
        moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    else:
        try:
            moment = dt.datetime.fromisoformat(at)
        except ValueError:
            raise EventProblem(f"--at: not an ISO 8601 time: {at[:40]!r}") from None
        if moment.tzinfo is None:
            raise EventProblem("--at: give the offset, e.g. 2026-12-01T10:00:00+01:00")
    return Event(
        report_id=_uuid(report_id, "REPORT_ID"),
        event_id=_uuid(event_id, "--event-id") if event_id else str(uuid.uuid4()),
        unit=unit,
        kind=kind,
        occurred_at=moment.isoformat(timespec="milliseconds"),
        reason=reason,
        outcome=outcome,
    )


def broker_user(url: str) -> str:
    """The user an AMQP URL signs in as (aio-pika's `guest` when it names none): the
    `user_id` property, which RabbitMQ checks against the connection's user."""
    return urllib.parse.unquote(urllib.parse.urlsplit(url).username or "guest")


async def publish(
    channel: aio_pika.abc.AbstractChannel, prefix: str, event: Event, user_id: str
) -> None:
    """Publish the event to the case-events exchange under its unit's routing key:
    persistent, `message_id` = event id, `type` fsi.case.event.v1, mandatory, and wait for
    the broker's confirm (the channel has publisher confirms). Raises the broker's error:
    no such exchange, no queue bound (returned), a refused routing key (ACCESS_REFUSED), or
    no confirm within 10 s."""
    exchange = await channel.get_exchange(contract.case_events_exchange(prefix), ensure=True)
    await exchange.publish(
        aio_pika.Message(
            json.dumps(event.body(with_report=True)).encode(),
            message_id=event.event_id,
            type=contract.CASE_EVENT_TYPE,
            content_type=contract.CONTENT_TYPE,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            timestamp=dt.datetime.now(dt.UTC),
            user_id=user_id,
        ),
        routing_key=event.unit,
        mandatory=True,
        timeout=10,
    )


def post(url: str, key: str, event: Event, timeout: float = 10.0) -> httpx.Response:
    """POST the event to the intake's `/v1/cases/{report_id}/events` with the API key as a
    bearer token; the response as it came. Raises `httpx.TransportError` when the intake
    does not answer."""
    return httpx.post(
        url.rstrip("/") + contract.events_path(event.report_id),
        json=event.body(with_report=False),
        headers={"Authorization": f"Bearer {key}"},
        timeout=timeout,
    )
