"""RabbitMQ topology as values: every exchange, queue and routing key, from one place.

All names carry a configurable prefix so tests and several deployments share one broker.
`declare` is the one declarer; both services call it with the same `Topology`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import aio_pika

QueueType = Literal["classic", "quorum"]
MAX_PRIORITY = 10
REPORT_ACCEPTED_KEY = "report.accepted"
TRIAGE_KEY = "triage"


@dataclass(frozen=True, slots=True)
class Exchange:
    """An exchange to declare."""

    name: str
    type: aio_pika.ExchangeType


@dataclass(frozen=True, slots=True)
class Queue:
    """A queue to declare, with its bindings as (exchange name, routing key) pairs."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    bindings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Topology:
    """The names and shapes of everything the services use on the broker."""

    prefix: str = "fsi."
    queue_type: QueueType = "classic"
    units: tuple[str, ...] = ()

    @property
    def reports_exchange(self) -> Exchange:
        """Intake → router: accepted reports."""
        return Exchange(f"{self.prefix}reports", aio_pika.ExchangeType.DIRECT)

    @property
    def cases_exchange(self) -> Exchange:
        """Router → units and triage: routed cases, routing key = unit id."""
        return Exchange(f"{self.prefix}cases", aio_pika.ExchangeType.DIRECT)

    @property
    def dead_letter_exchange(self) -> Exchange:
        """Poison messages, with the reason in their headers."""
        return Exchange(f"{self.prefix}dead-letter", aio_pika.ExchangeType.FANOUT)

    @property
    def routing_queue(self) -> Queue:
        """The router's input."""
        return Queue(
            f"{self.prefix}routing.reports",
            {**self._durable_args(), "x-dead-letter-exchange": self.dead_letter_exchange.name},
            ((self.reports_exchange.name, REPORT_ACCEPTED_KEY),),
        )

    @property
    def triage_queue(self) -> Queue:
        """Reports that need a human before they can go to a unit."""
        return self._case_queue(f"{self.prefix}triage", TRIAGE_KEY)

    @property
    def dead_letter_queue(self) -> Queue:
        """Where poison messages end, never redelivered by themselves."""
        return Queue(
            f"{self.prefix}dead-letter",
            self._durable_args(),
            ((self.dead_letter_exchange.name, ""),),
        )

    def unit_queue(self, unit: str) -> Queue:
        """The queue of one district unit, most urgent first."""
        return self._case_queue(f"{self.prefix}unit.{unit}", unit)

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        return (self.reports_exchange, self.cases_exchange, self.dead_letter_exchange)

    @property
    def queues(self) -> tuple[Queue, ...]:
        units = tuple(self.unit_queue(u) for u in self.units)
        return (self.routing_queue, self.triage_queue, self.dead_letter_queue, *units)

    def _durable_args(self) -> dict[str, Any]:
        return {"x-queue-type": "quorum"} if self.queue_type == "quorum" else {}

    def _case_queue(self, name: str, key: str) -> Queue:
        # Quorum queues have message priority only from RabbitMQ 4.0 (two levels there);
        # classic queues get x-max-priority, which RabbitMQ 3.x and 4.x both honour.
        args = self._durable_args() or {"x-max-priority": MAX_PRIORITY}
        return Queue(name, args, ((self.cases_exchange.name, key),))


async def declare(channel: aio_pika.abc.AbstractChannel, topology: Topology) -> None:
    """Declare every exchange, queue and binding of the topology (idempotent)."""
    exchanges = {}
    for exchange in topology.exchanges:
        exchanges[exchange.name] = await channel.declare_exchange(
            exchange.name, exchange.type, durable=True
        )
    for queue in topology.queues:
        declared = await channel.declare_queue(queue.name, durable=True, arguments=queue.arguments)
        for exchange_name, key in queue.bindings:
            await declared.bind(exchanges[exchange_name], routing_key=key)


async def delete(channel: aio_pika.abc.AbstractChannel, topology: Topology) -> None:
    """Remove the topology's queues and exchanges (tests and tear-down only)."""
    for queue in topology.queues:
        await channel.queue_delete(queue.name)
    for exchange in topology.exchanges:
        await channel.exchange_delete(exchange.name)


async def declare_at(url: str, topology: Topology) -> None:
    """Connect, declare, disconnect."""
    connection = await aio_pika.connect(url, timeout=10)
    async with connection:
        await declare(await connection.channel(), topology)
