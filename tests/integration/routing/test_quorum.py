"""Quorum unit queues (`FSI_BROKER_QUEUE_TYPE=quorum`): declared as such, routed to, and on
RabbitMQ 4 ordered by priority (quorum queues have two priority levels there)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.common.settings import DatabaseSettings
from services.common.topology import Topology
from services.intake.app import create_app
from services.intake.settings import IntakeSettings, StandardiseSettings
from services.routing.main import RulesWatch, load_rules, serve
from services.routing.settings import RoutingSettings
from tests.integration.stack import example, take, wait_routed
from tests.support.clients import auth

UNIT = "oslo.felles-etterforskning"


@dataclass
class QuorumStack:
    intake: AsyncTestClient[Any]
    channel: aio_pika.abc.AbstractChannel
    topology: Topology
    database_url: str
    broker_major: int


@pytest.fixture
async def quorum(
    database_url: str,
    router_database_url: str,
    amqp_url: str,
    intake_settings: Callable[..., IntakeSettings],
    make_topology: Callable[..., Topology],
) -> AsyncIterator[QuorumStack]:
    base = intake_settings()
    broker = msgspec.structs.replace(base.broker, queue_type="quorum")
    intake = msgspec.structs.replace(
        base, broker=broker, standardise=StandardiseSettings(accept_synthetic_ids=True)
    )
    routing = RoutingSettings(
        db=DatabaseSettings(
            url=router_database_url, pool_min=1, pool_max=4, migrate_on_start=False
        ),
        broker=broker,
    )
    topology = make_topology(units=load_rules(routing).catalogue.units, queue_type="quorum")
    stop = asyncio.Event()
    started: list[RulesWatch] = []
    connection = await aio_pika.connect(amqp_url)
    assert connection.transport is not None  # connected
    version = str(connection.transport.connection.server_properties["version"])
    router = None
    try:
        async with AsyncTestClient(create_app(intake, configure_logging=False)) as client:
            router = asyncio.create_task(serve(routing, stop, on_start=started.append))
            for _ in range(200):
                if started:
                    break
                await asyncio.sleep(0.05)
            assert started, "the router did not start"
            yield QuorumStack(
                client, await connection.channel(), topology, database_url, int(version[0])
            )
    finally:
        stop.set()
        if router is not None:
            await asyncio.wait_for(router, 20)
        await connection.close()


async def test_quorum_unit_queues_are_declared_and_routed_to(quorum: QuorumStack) -> None:
    posted = await quorum.intake.post(
        "/v1/reports", json=example("bicycle-theft", persons=[]), headers=auth("alpha")
    )
    assert posted.status_code == 202
    await wait_routed(quorum.database_url, 1)
    name = quorum.topology.unit_queue(UNIT).name
    (message,) = await take(await quorum.channel.get_queue(name), 1)
    assert message.message_id == posted.json()["report_id"]
    # Declaring it again as a classic queue is refused: the broker holds a quorum queue.
    with pytest.raises(aio_pika.exceptions.ChannelPreconditionFailed):
        await quorum.channel.declare_queue(name, durable=True, arguments={"x-max-priority": 10})


async def test_quorum_queues_deliver_urgent_cases_first_on_rabbitmq_4(
    quorum: QuorumStack,
) -> None:
    if quorum.broker_major < 4:
        pytest.skip("quorum queues have no message priority before RabbitMQ 4.0")
    theft = {"offences": [{"code": "strl-321"}], "persons": []}
    for flags in ({}, {"ongoing_danger": True}):
        body = example("bicycle-theft", **theft, flags=flags)
        assert (
            await quorum.intake.post("/v1/reports", json=body, headers=auth("alpha"))
        ).status_code == 202
    await wait_routed(quorum.database_url, 2)
    got = await take(await quorum.channel.get_queue(quorum.topology.unit_queue(UNIT).name), 2)
    assert [m.headers["x-fsi-priority"] for m in got] == ["critical", "low"]
