"""A router killed with SIGKILL between publishing people's cases and acknowledging their
`case.decided` messages: each case is delivered once in effect, recorded once."""

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

from services.common.topology import Topology, declare
from services.intake.app import create_app
from services.intake.settings import IntakeSettings, StandardiseSettings
from services.routing.main import load_rules
from services.routing.settings import RoutingSettings
from tests.integration.routing.test_person_cases import UNIT, decide_as_person, nowhere
from tests.integration.routing.test_router_crash import router_env
from tests.integration.stack import example
from tests.support.clients import auth
from tests.support.processes import ServiceProcess
from tests.support.proxy import TcpProxy

CASES = 24


@pytest.fixture
async def intake(
    intake_settings: Callable[..., IntakeSettings],
) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = msgspec.structs.replace(
        intake_settings(), standardise=StandardiseSettings(accept_synthetic_ids=True)
    )
    async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
        yield client


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
    intake: AsyncTestClient[Any],
    make_topology: Callable[..., Topology],
) -> None:
    prefix = intake_settings().broker.prefix
    env = router_env(router_database_url, amqp_url, prefix)
    topology = make_topology(units=load_rules(RoutingSettings()).catalogue.units)
    broker = urlsplit(amqp_url)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672, hold_first_ack=True)
    await proxy.start()
    through_proxy = urlunsplit(broker._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}"))
    triage = ServiceProcess("services.routing.main", env, tmp_path / "triage.log")
    first = ServiceProcess(
        "services.routing.main", {**env, "FSI_BROKER_URL": through_proxy}, tmp_path / "a.log"
    )
    second = ServiceProcess("services.routing.main", env, tmp_path / "b.log")
    connection = await aio_pika.connect(amqp_url)
    conn = await asyncpg.connect(database_url)
    try:
        channel = await connection.channel()
        await declare(channel, topology)
        # The reports go to triage first, with a router of their own that then stops: the
        # router killed later sees only people's decisions.
        triage.start()
        reports = []
        for _ in range(CASES):
            body = example("bicycle-theft", persons=[], **nowhere())
            answer = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
            assert answer.status_code == 202
            reports.append(answer.json()["report_id"])
        await until(conn, "SELECT count(*) FROM work_items", CASES)
        triage.stop()
        first.start()
        acts = [await decide_as_person(intake_database_url, r) for r in reports]
        deadline = time.monotonic() + 30
        while not proxy.held.is_set():
            assert time.monotonic() < deadline, "no acknowledgement: " + first.output[-2000:]
            await asyncio.sleep(0.02)
        # A queue confirmed at least one case, and the broker saw no acknowledgement.
        first.kill()
        await proxy.cut()
        second.start()
        await until(conn, "SELECT count(*) FROM person_case_deliveries", CASES)
        decisions = topology.decisions_queue.name
        for _ in range(200):
            declared = await channel.declare_queue(decisions, passive=True)
            if declared.declaration_result.message_count == 0:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # the last acknowledgements and publishes settle
        seen: collections.Counter[str] = collections.Counter()
        bodies: dict[str, bytes] = {}
        unit = await channel.get_queue(topology.unit_queue(UNIT).name)
        while (message := await unit.get(fail=False)) is not None:
            await message.ack()
            assert message.message_id is not None
            seen[message.message_id] += 1
            # Every copy of a case is the same message.
            assert bodies.setdefault(message.message_id, message.body) == message.body
        rows = await conn.fetch("SELECT decision_id FROM person_case_deliveries")
        dead = await channel.declare_queue(topology.dead_letter_queue.name, passive=True)
    finally:
        first.kill()
        triage.stop()
        second.stop()
        await proxy.stop()
        await conn.close()
        await connection.close()
    assert sorted(seen) == sorted(str(a) for a in acts)  # none lost, none unknown
    assert max(seen.values()) <= 2
    assert sorted(r["decision_id"] for r in rows) == sorted(acts)  # one delivery each
    assert dead.declaration_result.message_count == 0
    # The batch whose acknowledgement was lost came again to the second router, which found
    # its cases delivered and acknowledged them without publishing.
    assert "delivered before" in second.output
    assert '"redelivered": true' in second.output or "redelivered=True" in second.output
