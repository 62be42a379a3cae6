"""A router killed with SIGKILL between publishing a case and acknowledging its report."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from schemas.envelope import CaseRouted
from services.common.topology import Topology, declare
from services.intake.app import create_app
from services.intake.settings import IntakeSettings, StandardiseSettings
from services.routing.main import load_rules
from services.routing.settings import RoutingSettings
from tests.integration.stack import example, wait_routed
from tests.support.clients import auth
from tests.support.processes import ServiceProcess
from tests.support.proxy import TcpProxy

REPORTS = 40


def router_env(database_url: str, broker_url: str, prefix: str) -> dict[str, str]:
    return {
        "FSI_DB_URL": database_url,
        "FSI_DB_MIGRATE_ON_START": "false",
        "FSI_BROKER_URL": broker_url,
        "FSI_BROKER_PREFIX": prefix,
        "FSI_CONSUMER_PREFETCH": "16",
        "FSI_LOG_LEVEL": "INFO",
    }


@pytest.fixture
async def intake_client(
    intake_settings: Callable[..., IntakeSettings],
) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = msgspec.structs.replace(
        intake_settings(), standardise=StandardiseSettings(accept_synthetic_ids=True)
    )
    async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
        yield client


async def everything_routed(
    channel: aio_pika.abc.AbstractChannel, topology: Topology
) -> collections.Counter[str]:
    """Every message in every unit, triage and dead-letter queue, by message id."""
    seen: collections.Counter[str] = collections.Counter()
    bodies: dict[str, bytes] = {}
    queues = [topology.unit_queue(u) for u in topology.units]
    for queue in (*queues, topology.triage_queue, topology.dead_letter_queue):
        declared = await channel.get_queue(queue.name)
        while (message := await declared.get(fail=False)) is not None:
            await message.ack()
            assert message.message_id is not None
            seen[message.message_id] += 1
            decision = msgspec.json.decode(message.body, type=CaseRouted).decision
            # Every copy of a case carries the one stored decision.
            assert bodies.setdefault(message.message_id, message.body) == message.body, decision
    return seen


async def test_sigkill_between_publish_and_ack_routes_each_report_once(
    tmp_path: Path,
    database_url: str,
    router_database_url: str,
    amqp_url: str,
    intake_settings: Callable[..., IntakeSettings],
    intake_client: AsyncTestClient[Any],
    make_topology: Callable[..., Topology],
) -> None:
    prefix = intake_settings().broker.prefix
    env = router_env(router_database_url, amqp_url, prefix)
    topology = make_topology(units=load_rules(RoutingSettings()).catalogue.units)
    broker = urlsplit(amqp_url)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672, hold_first_ack=True)
    await proxy.start()
    through_proxy = urlunsplit(broker._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}"))
    first = ServiceProcess(
        "services.routing.main", {**env, "FSI_BROKER_URL": through_proxy}, tmp_path / "a.log"
    )
    second = ServiceProcess("services.routing.main", env, tmp_path / "b.log")
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        await declare(channel, topology)
        first.start()
        posted = []
        for _ in range(REPORTS):
            body = example("bicycle-theft", persons=[])
            answer = await intake_client.post("/v1/reports", json=body, headers=auth("alpha"))
            assert answer.status_code == 202
            posted.append(answer.json()["report_id"])
        deadline = time.monotonic() + 30
        while not proxy.held.is_set():
            assert time.monotonic() < deadline, (
                "the first router never acknowledged: " + (first.output[-2000:])
            )
            await asyncio.sleep(0.02)
        # The broker has confirmed at least one case and seen no acknowledgement.
        first.kill()
        await proxy.cut()
        second.start()
        await wait_routed(database_url, REPORTS, within=30)
        routing = await channel.get_queue(topology.routing_queue.name)
        for _ in range(200):
            declared = await channel.declare_queue(routing.name, passive=True)
            if declared.declaration_result.message_count == 0:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the last acks and publishes settle
        seen = await everything_routed(channel, topology)
        conn = await asyncpg.connect(database_url)
        decided = await conn.fetchval("SELECT count(DISTINCT report_id) FROM decisions")
        await conn.close()
    finally:
        first.kill()
        second.stop()
        await proxy.stop()
        await connection.close()
    assert sorted(seen) == sorted(posted)  # none lost, none unknown
    assert decided == REPORTS  # one decision each
    # The crash happened after a confirmed publish: that case was published again, with the
    # same message id and the same decision, after the redelivery.
    assert max(seen.values()) == 2
    assert "redelivered=True" in second.output or '"redelivered": true' in second.output
