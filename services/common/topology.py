"""RabbitMQ topology as values: every exchange, queue and routing key, from one place.

All names carry a configurable prefix so tests and several deployments share one broker.
`declare` is the one declarer; both services call it with the same `Topology`. A queue or
exchange that exists on the broker with other arguments is a `TopologyMismatch` naming it,
the argument and both values, never a bare channel error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import aio_pika
import aiormq

from services.common.settings import BrokerSettings
from services.common.topology_mismatch import TopologyMismatch, TopologyMissing, parse_precondition

QueueType = Literal["classic", "quorum"]
MAX_PRIORITY = 10
REPORT_ACCEPTED_KEY = "report.accepted"
# A case a person decided, announced by the intake's outbox (schemas.envelope.CaseDecided).
CASE_DECIDED_KEY = "case.decided"
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

    @classmethod
    def of(cls, broker: BrokerSettings, units: tuple[str, ...] = ()) -> Topology:
        """The topology the broker settings name (prefix, queue type), with these units."""
        return cls(prefix=broker.prefix, queue_type=broker.queue_type, units=units)

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
    def decisions_queue(self) -> Queue:
        """The router's input of people's decisions: one `case.decided` message each, whose
        case the router publishes; dead-lettered like the routing queue."""
        return Queue(
            f"{self.prefix}routing.decisions",
            {**self._durable_args(), "x-dead-letter-exchange": self.dead_letter_exchange.name},
            ((self.reports_exchange.name, CASE_DECIDED_KEY),),
        )

    @property
    def case_events_exchange(self) -> Exchange:
        """Units → router: case events (schemas.caseevents.CaseEvent), routing key = the
        unit's id, so the broker's topic permissions can hold a unit's user to its own key."""
        return Exchange(f"{self.prefix}case-events", aio_pika.ExchangeType.TOPIC)

    @property
    def case_events_queue(self) -> Queue:
        """The router's input of case events from every unit; dead-lettered with the reason
        when refused."""
        return Queue(
            f"{self.prefix}routing.case-events",
            {**self._durable_args(), "x-dead-letter-exchange": self.dead_letter_exchange.name},
            ((self.case_events_exchange.name, "#"),),
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

    def case_queue(self, unit: str) -> Queue:
        """The queue a case for `unit` goes to: the unit's, or triage's for `triage`."""
        return self.triage_queue if unit == TRIAGE_KEY else self.unit_queue(unit)

    @property
    def exchanges(self) -> tuple[Exchange, ...]:
        return (
            self.reports_exchange,
            self.cases_exchange,
            self.dead_letter_exchange,
            self.case_events_exchange,
        )

    @property
    def queues(self) -> tuple[Queue, ...]:
        units = tuple(self.unit_queue(u) for u in self.units)
        return (
            self.routing_queue,
            self.decisions_queue,
            self.case_events_queue,
            self.triage_queue,
            self.dead_letter_queue,
            *units,
        )

    def _durable_args(self) -> dict[str, Any]:
        return {"x-queue-type": "quorum"} if self.queue_type == "quorum" else {}

    def _case_queue(self, name: str, key: str) -> Queue:
        # Quorum queues have message priority only from RabbitMQ 4.0 (two levels there);
        # classic queues get x-max-priority, which RabbitMQ 3.x and 4.x both honour.
        args = self._durable_args() or {"x-max-priority": MAX_PRIORITY}
        return Queue(name, args, ((self.cases_exchange.name, key),))


async def declare(channel: aio_pika.abc.AbstractChannel, topology: Topology) -> None:
    """Declare every exchange, queue and binding of the topology (idempotent); for a user
    that may not configure them, check that each exists instead.

    Raises `TopologyMismatch` for the first one the broker holds with other arguments (the
    broker names one argument per refusal, and the refusal closes the channel), and
    `TopologyMissing` for one that a user without configure permission does not find."""
    if not await _may_configure(channel, topology):
        await _check_exists(channel, topology)
        return
    exchanges = {}
    for exchange in topology.exchanges:
        try:
            exchanges[exchange.name] = await channel.declare_exchange(
                exchange.name, exchange.type, durable=True
            )
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise TopologyMismatch(
                parse_precondition(_reply(exc), "exchange", exchange.name)
            ) from None
    for queue in topology.queues:
        try:
            declared = await channel.declare_queue(
                queue.name, durable=True, arguments=queue.arguments
            )
        except aiormq.exceptions.ChannelPreconditionFailed as exc:
            raise TopologyMismatch(parse_precondition(_reply(exc), "queue", queue.name)) from None
        for exchange_name, key in queue.bindings:
            await declared.bind(exchanges[exchange_name], routing_key=key)


async def _side_channel(channel: aio_pika.abc.AbstractChannel) -> aiormq.abc.AbstractChannel:
    # A refusal closes the channel it happens on: the caller's (its confirms, its prefetch)
    # is kept out of it.
    return await (await channel.get_underlay_channel()).connection.channel()


async def _may_configure(channel: aio_pika.abc.AbstractChannel, topology: Topology) -> bool:
    """Whether the broker lets this user declare: tried with the first exchange, which a
    declare creates anyway. A least-privilege user (publish or consume only) may not."""
    first = topology.exchanges[0]
    side = await _side_channel(channel)
    try:
        await side.exchange_declare(first.name, exchange_type=first.type.value, durable=True)
    except aiormq.exceptions.ChannelAccessRefused:
        return False
    except aiormq.exceptions.ChannelPreconditionFailed:
        return True  # allowed; the declare proper names the difference
    finally:
        if not side.is_closed:
            await side.close()
    return True


async def _check_exists(channel: aio_pika.abc.AbstractChannel, topology: Topology) -> None:
    """Passive declares (no permission needed): each exchange and queue must exist. Their
    arguments and bindings are not seen; they are fsi-declare's."""
    side = await _side_channel(channel)
    try:
        for exchange in topology.exchanges:
            try:
                await side.exchange_declare(exchange.name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                raise TopologyMissing("exchange", exchange.name) from None
        for queue in topology.queues:
            try:
                await side.queue_declare(queue.name, passive=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                raise TopologyMissing("queue", queue.name) from None
    finally:
        if not side.is_closed:
            await side.close()


def _reply(exc: aiormq.exceptions.ChannelPreconditionFailed) -> str:
    return str(exc.args[0]) if exc.args else ""


async def delete(channel: aio_pika.abc.AbstractChannel, topology: Topology) -> None:
    """Remove the topology's queues and exchanges (tests and tear-down only)."""
    for queue in topology.queues:
        await channel.queue_delete(queue.name)
    for exchange in topology.exchanges:
        await channel.exchange_delete(exchange.name)
