"""The case-events door with its broker and store replaced: refused events are copied to the
dead-letter exchange with their reason, code and sender before anything is acknowledged,
counted once settled, and a database outage puts the batch back instead."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import asyncpg
import pytest
from prometheus_client import REGISTRY

from services.common.caseevents.model import Refusal
from services.common.caseevents.store import Incoming, Outcome
from services.common.topology import Topology
from services.routing.caseevents_consumer import CaseEvents
from services.routing.consumer import Sequencer

UNIT = "oslo.felles-etterforskning"
TOPOLOGY = Topology(prefix="t.")


@dataclass
class Message:
    """The part of an incoming message the door touches."""

    body: bytes
    routing_key: str = UNIT
    user_id: str | None = f"fsi.unit.{UNIT}"
    delivery_tag: int = 0
    message_id: str | None = None
    type: str | None = None
    content_type: str | None = "application/json"
    redelivered: bool = False
    processed: bool = False
    channel: object = "one channel"
    settled: list[str] = field(default_factory=list)

    async def ack(self, multiple: bool = False) -> None:
        self.processed = True
        self.settled.append("ack+" if multiple else "ack")

    async def nack(self, requeue: bool = True) -> None:
        self.processed = True
        self.settled.append("requeued" if requeue else "dropped")


@dataclass
class Exchange:
    name: str = "t.dead-letter"
    published: list[aio_pika.Message] = field(default_factory=list)
    fails: bool = False

    async def publish(self, message: aio_pika.Message, routing_key: str, **_: Any) -> None:
        if self.fails:
            raise aio_pika.exceptions.DeliveryError(None, None)  # type: ignore[arg-type]
        self.published.append(message)


class Pool:
    """A pool whose connections are placeholders: the store is the test's."""

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[object]:
        yield object()


def body(kind: str = "received", **changes: Any) -> bytes:
    made = {
        "event_id": str(uuid.uuid4()),
        "report_id": str(uuid.uuid4()),
        "unit": UNIT,
        "kind": kind,
        "occurred_at": dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC).isoformat(),
        **changes,
    }
    return json.dumps(made).encode()


def answering(*verdicts: str, fails: int = 0) -> Any:
    """A store answering the batch's events with these verdicts in turn (refused ones as
    not_held); the first `fails` calls fail as a database outage does."""
    calls: list[int] = []

    async def store(conn: object, batch: Sequence[Incoming]) -> list[Outcome]:
        calls.append(len(batch))
        if len(calls) <= fails:
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        out = []
        for incoming, verdict in zip(batch, verdicts, strict=False):
            e = incoming.event
            refusal = Refusal.NOT_HELD if verdict == "refused" else None
            message = None if refusal is None else f"unit {e.unit} holds no case"
            out.append(Outcome(e.event_id, e.report_id, verdict, refusal, message, None, None))  # type: ignore[arg-type]
        return out

    store.calls = calls  # type: ignore[attr-defined]
    return store


def door(store: Any, exchange: Exchange) -> CaseEvents:
    events = CaseEvents(pool=Pool(), topology=TOPOLOGY, store=store)
    events._dead_letters = exchange  # type: ignore[assignment]
    return events


def counted(kind: str, verdict: str) -> float:
    labels = {"via": "amqp", "kind": kind, "verdict": verdict}
    return REGISTRY.get_sample_value("fsi_case_events_total", labels) or 0.0


async def test_refused_events_are_dead_lettered_with_their_reason_then_all_acknowledged() -> None:
    exchange = Exchange()
    events = door(answering("applied", "refused"), exchange)
    messages = [
        Message(body(), delivery_tag=1),
        Message(body("released"), delivery_tag=2),
        Message(b"Kari 24869023120", delivery_tag=3, user_id=None),
        Message(body(), routing_key="oslo.barn-og-unge", delivery_tag=4),
    ]
    before = counted("released", "not_held"), counted("received", "applied")
    outcome = await events.route([(m, 0.0) for m in messages])  # type: ignore[misc]
    assert [id(m) for m in outcome.done] == [id(m) for m in messages]
    assert not outcome.failed
    assert [m.settled for m in messages] == [[], [], [], []]  # the Sequencer acknowledges
    dead = {m.headers["x-fsi-code"]: m for m in exchange.published}
    assert set(dead) == {"not_held", "invalid", "unit_mismatch"}
    assert dead["not_held"].body == messages[1].body
    assert dead["not_held"].headers == {
        "x-fsi-code": "not_held",
        "x-fsi-client": f"amqp:fsi.unit.{UNIT}",
        "x-fsi-reason": f"unit {UNIT} holds no case",
        "x-fsi-original-queue": "t.routing.case-events",
    }
    assert dead["invalid"].headers["x-fsi-client"] == "amqp:-"
    assert "24869023120" not in str(dead["invalid"].headers)
    assert dead["unit_mismatch"].delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert events.applied == 0  # counted once acknowledged
    outcome.acknowledged()
    assert (events.applied, events.settled) == (1, 4)
    after = counted("released", "not_held"), counted("received", "applied")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


async def test_a_dead_letter_the_broker_does_not_confirm_puts_the_batch_back() -> None:
    events = door(answering("refused"), Exchange(fails=True))
    with pytest.raises(aio_pika.exceptions.DeliveryError):
        await events.route([(Message(body()), 0.0)])  # type: ignore[list-item]


async def test_a_database_outage_puts_events_back_and_dead_letters_none() -> None:
    exchange = Exchange()
    store = answering("applied", "applied", fails=1)
    events = door(store, exchange)
    sequencer = Sequencer(events.route, retry_seconds=0.01, batches_in_flight=1)
    first, second = Message(body(), delivery_tag=1), Message(body(), delivery_tag=2)
    await sequencer.handle(first)  # type: ignore[arg-type]
    await sequencer.handle(second)  # type: ignore[arg-type]
    await sequencer.drained()
    assert first.settled == second.settled == ["requeued"]
    assert exchange.published == []
    # Redelivered, they are applied and acknowledged with one `multiple` acknowledgement.
    again = [
        Message(m.body, delivery_tag=n, redelivered=True) for n, m in ((3, first), (4, second))
    ]
    for message in again:
        await sequencer.handle(message)  # type: ignore[arg-type]
    await sequencer.drained()
    assert [m.settled for m in again] == [[], ["ack+"]]
    assert store.calls == [2, 2]
