"""A router killed with SIGKILL between publishing people's cases and acknowledging their
`case.decided` messages: each case is delivered once in effect, recorded once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
from litestar.testing import AsyncTestClient

from services.common.topology import Topology, declare
from services.intake.settings import IntakeSettings
from services.routing.main import load_rules
from services.routing.settings import RoutingSettings
from tests.integration.routing.crash import intake_client, router_env, routers, taken, until_empty
from tests.integration.routing.test_person_cases import UNIT, decide_as_person
from tests.integration.stack import example
from tests.integration.triage.flows import in_municipality
from tests.support.clients import auth
from tests.support.processes import ServiceProcess

__all__ = ["intake_client"]  # fixture

CASES = 24


async def until(conn: asyncpg.Connection, sql: str, count: int, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while (got := await conn.fetchval(sql)) < count:
        assert time.monotonic() < deadline, f"{got} of {count}: {sql}"
        await asyncio.sleep(0.05)


async def test_sigkill_between_publish_and_ack_delivers_each_persons_case_once(
    tmp_path: Path,
    database_url: str,
    router_database_url: str,
    intake_database_url: str,
    amqp_url: str,
    intake_settings: Callable[..., IntakeSettings],
    intake_client: AsyncTestClient[Any],
    make_topology: Callable[..., Topology],
) -> None:
    prefix = intake_settings().broker.prefix
    env = router_env(router_database_url, amqp_url, prefix)
    topology = make_topology(units=load_rules(RoutingSettings()).catalogue.units)
    triage = ServiceProcess("services.routing.main", env, tmp_path / "triage.log")
    async with routers(env, amqp_url, tmp_path) as crash:
        connection = await aio_pika.connect(amqp_url)
        conn = await asyncpg.connect(database_url)
        try:
            channel = await connection.channel()
            await declare(channel, topology)
            # The reports go to triage first, with a router of their own that then stops:
            # the router killed later sees only people's decisions.
            triage.start()
            reports = []
            for _ in range(CASES):
                # 9998: no municipality has that number, so the rules triage the report.
                body = example("bicycle-theft", persons=[], **in_municipality("9998"))
                answer = await intake_client.post("/v1/reports", json=body, headers=auth("alpha"))
                assert answer.status_code == 202
                reports.append(answer.json()["report_id"])
            await until(conn, "SELECT count(*) FROM work_items", CASES)
            triage.stop()
            crash.first.start()
            acts = [await decide_as_person(intake_database_url, r) for r in reports]
            # A queue confirmed at least one case, and the broker saw no acknowledgement.
            await crash.kill_first_after_a_confirm()
            await until(conn, "SELECT count(*) FROM person_case_deliveries", CASES)
            await until_empty(channel, topology.decisions_queue.name)
            await asyncio.sleep(1.0)  # the last acknowledgements and publishes settle
            seen = await taken(channel, [topology.unit_queue(UNIT).name])
            rows = await conn.fetch("SELECT decision_id FROM person_case_deliveries")
            dead = await channel.declare_queue(topology.dead_letter_queue.name, passive=True)
        finally:
            triage.stop()
            await conn.close()
            await connection.close()
    assert sorted(seen) == sorted(str(a) for a in acts)  # none lost, none unknown
    assert max(seen.values()) <= 2
    assert sorted(r["decision_id"] for r in rows) == sorted(acts)  # one delivery each
    assert dead.declaration_result.message_count == 0
    # The batch whose acknowledgement was lost came again to the second router, which found
    # its cases delivered and acknowledged them without publishing.
    assert "delivered before" in crash.second.output
    assert '"redelivered": true' in crash.second.output or "redelivered=True" in crash.second.output
