"""The topology on the real RabbitMQ: declared idempotently, routed by key, priority honoured;
a queue or exchange the broker holds with other arguments named with the argument and both
values (`TopologyMismatch`), never a bare channel error."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import pytest

from services.common.topology import MAX_PRIORITY, Topology, declare
from services.common.topology_mismatch import Difference, TopologyMismatch
from tests.support.broker_inputs import run_script


async def test_declare_twice_and_route_by_priority(
    amqp_url: str, make_topology: Callable[..., Topology]
) -> None:
    topo = make_topology(units=("oslo.vold",))
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await declare(channel, topo)
        await declare(channel, topo)
        cases = await channel.get_exchange(topo.cases_exchange.name)
        for priority in (1, 9, 5):
            await cases.publish(
                aio_pika.Message(str(priority).encode(), priority=priority), routing_key="oslo.vold"
            )
        queue = await channel.get_queue(topo.unit_queue("oslo.vold").name)
        got = []
        for _ in range(3):
            message = await queue.get(timeout=5)
            assert message is not None
            got.append(int(message.body))
            await message.ack()
        assert got == [9, 5, 1]
        triage = await channel.get_queue(topo.triage_queue.name)
        assert triage.declaration_result.message_count == 0


# --- a broker that already holds our names with other arguments -----------------------------


async def _refused(amqp_url: str, topo: Topology) -> Difference:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        with pytest.raises(TopologyMismatch) as refused:
            await declare(await connection.channel(), topo)
    return refused.value.difference


async def test_a_routing_queue_an_operator_precreated_is_named_with_its_argument(
    amqp_url: str, make_topology: Callable[..., Topology]
) -> None:
    topo = make_topology()
    # real-inputs-1/precreate-routing-queue.py: x-max-length and no dead-letter exchange
    run_script("precreate-routing-queue", amqp_url, topo.prefix)
    difference = await _refused(amqp_url, topo)
    assert (difference.kind, difference.name, difference.argument) == (
        "queue",
        topo.routing_queue.name,
        "x-dead-letter-exchange",
    )
    assert (difference.ours, difference.theirs) == (topo.dead_letter_exchange.name, None)


async def _predeclare(amqp_url: str, declare_one: Callable[[Any], Awaitable[Any]]) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        await declare_one(await connection.channel())


async def test_a_unit_queue_with_another_priority_is_named(
    amqp_url: str, make_topology: Callable[..., Topology]
) -> None:
    topo = make_topology(units=("oslo.vold",))
    name = topo.unit_queue("oslo.vold").name
    await _predeclare(
        amqp_url, lambda ch: ch.declare_queue(name, durable=True, arguments={"x-max-priority": 5})
    )
    difference = await _refused(amqp_url, topo)
    assert (difference.name, difference.argument, difference.ours, difference.theirs) == (
        name,
        "x-max-priority",
        str(MAX_PRIORITY),
        "5",
    )


async def test_an_exchange_of_another_type_is_named(
    amqp_url: str, make_topology: Callable[..., Topology]
) -> None:
    topo = make_topology()
    name = topo.cases_exchange.name
    await _predeclare(
        amqp_url,
        lambda ch: ch.declare_exchange(name, aio_pika.ExchangeType.FANOUT, durable=True),
    )
    difference = await _refused(amqp_url, topo)
    assert (difference.kind, difference.name, difference.argument) == ("exchange", name, "type")
    assert (difference.ours, difference.theirs) == ("direct", "fanout")


async def test_quorum_settings_against_classic_queues_are_named(
    amqp_url: str, make_topology: Callable[..., Topology]
) -> None:
    classic = make_topology()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        await declare(await connection.channel(), classic)
    quorum = make_topology(queue_type="quorum")
    difference = await _refused(amqp_url, quorum)
    # The first queue declared differs: the routing queue, classic on the broker.
    assert (difference.name, difference.argument) == (quorum.routing_queue.name, "x-queue-type")
    assert (difference.ours, difference.theirs) == ("quorum", None)
