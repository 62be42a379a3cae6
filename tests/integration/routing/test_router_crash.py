"""A router killed with SIGKILL between publishing a case and acknowledging its report."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import msgspec
from litestar.testing import AsyncTestClient

from schemas.envelope import CaseRouted
from services.common.topology import Topology, declare
from services.intake.settings import IntakeSettings
from services.routing.main import load_rules
from services.routing.settings import RoutingSettings
from tests.integration.routing.crash import intake_client, router_env, routers, taken, until_empty
from tests.integration.stack import example, wait_routed
from tests.support.clients import auth

__all__ = ["intake_client"]  # fixture

REPORTS = 40


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
    async with routers(env, amqp_url, tmp_path) as crash:
        connection = await aio_pika.connect(amqp_url)
        try:
            channel = await connection.channel()
            await declare(channel, topology)
            crash.first.start()
            posted = []
            for _ in range(REPORTS):
                body = example("bicycle-theft", persons=[])
                answer = await intake_client.post("/v1/reports", json=body, headers=auth("alpha"))
                assert answer.status_code == 202
                posted.append(answer.json()["report_id"])
            # The broker has confirmed at least one case and seen no acknowledgement.
            await crash.kill_first_after_a_confirm()
            await wait_routed(database_url, REPORTS, within=30)
            await until_empty(channel, topology.routing_queue.name)
            await asyncio.sleep(0.5)  # the last acks and publishes settle
            queues = [topology.unit_queue(u) for u in topology.units]
            queues += [topology.triage_queue, topology.dead_letter_queue]
            # Every copy of a case carries the one stored decision.
            seen = await taken(
                channel,
                [q.name for q in queues],
                lambda body: msgspec.json.decode(body, type=CaseRouted).decision,
            )
            conn = await asyncpg.connect(database_url)
            decided = await conn.fetchval("SELECT count(DISTINCT report_id) FROM decisions")
            await conn.close()
        finally:
            await connection.close()
    assert sorted(seen) == sorted(posted)  # none lost, none unknown
    assert decided == REPORTS  # one decision each
    # The crash happened after a confirmed publish: that case was published again, with the
    # same message id and the same decision, after the redelivery.
    assert max(seen.values()) == 2
    assert "redelivered=True" in crash.second.output or '"redelivered": true' in crash.second.output
