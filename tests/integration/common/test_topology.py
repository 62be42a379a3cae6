"""The topology on the real RabbitMQ: declared idempotently, routed by key, priority honoured."""

from __future__ import annotations

from collections.abc import Callable

import aio_pika

from services.common.topology import Topology, declare


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
