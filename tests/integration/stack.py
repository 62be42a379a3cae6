"""A whole stack under a prefix of the test's own: the intake app and a router in this
process, against the real RabbitMQ and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.common.topology import Topology
from services.intake.app import create_app
from services.intake.settings import IntakeSettings, OpsSettings, StandardiseSettings
from services.routing.main import RulesWatch, load_rules, serve
from services.routing.settings import RoutingSettings
from tests.integration.conftest import unique
from tests.support.clients import auth

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "schemas" / "examples"


@dataclass
class Stack:
    intake: AsyncTestClient[Any]
    channel: aio_pika.abc.AbstractChannel
    topology: Topology
    database_url: str
    watch: RulesWatch | None
    rules_file: Path
    router: asyncio.Task[None]
    stop: asyncio.Event

    async def stop_router(self) -> None:
        """Stop the router and wait for it (its channel closes: unsettled deliveries return)."""
        self.stop.set()
        await asyncio.wait_for(self.router, 20)

    async def queue(self, name: str) -> aio_pika.abc.AbstractQueue:
        return await self.channel.get_queue(name)


@pytest.fixture
async def stack(
    database_url: str,
    amqp_url: str,
    intake_settings: Callable[..., IntakeSettings],
    router_settings: Callable[..., RoutingSettings],
    make_topology: Callable[..., Topology],
) -> AsyncIterator[Stack]:
    base = intake_settings()
    # No migrations at the router's start: a router holding the migration lock while the
    # test client blocks this loop to start the intake would deadlock it.
    routing = router_settings()
    rules_file = Path(routing.rules.file)
    topology = make_topology(units=load_rules(routing).catalogue.units)
    settings = msgspec.structs.replace(
        base,
        standardise=StandardiseSettings(accept_synthetic_ids=True),
        ops=OpsSettings(interval_seconds=1, cookie_secure=False),
    )
    stop = asyncio.Event()
    watches: list[RulesWatch] = []
    connection = await aio_pika.connect(amqp_url)
    router: asyncio.Task[None] | None = None
    try:
        async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
            router = asyncio.create_task(serve(routing, stop, on_start=watches.append))
            for _ in range(200):
                if watches:
                    break
                await asyncio.sleep(0.05)
            yield Stack(
                client,
                await connection.channel(),
                topology,
                database_url,
                watches[0],
                rules_file,
                router,
                stop,
            )
    finally:
        stop.set()
        if router is not None:
            await asyncio.wait_for(router, 20)
        await connection.close()


def example(name: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / f"report.{name}.json").read_text("utf-8"))
    body.update(source="alpha-src", external_id=unique(name), **changes)
    return body


async def wait_routed(database_url: str, count: int, within: float = 15) -> None:
    """Until `count` cases are routed: confirmed by their queues, not only decided."""
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(int(within * 20)):
            if await conn.fetchval("SELECT count(*) FROM case_deliveries") >= count:
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"fewer than {count} reports were routed in {within} s")


async def first_row(
    database_url: str, query: str, *args: Any, within: float = 15
) -> asyncpg.Record:
    """The first row `query` finds, once it finds one (the stack works meanwhile);
    AssertionError after `within` seconds."""
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(int(within * 20)):
            row = await conn.fetchrow(query, *args)
            if row is not None:
                return row
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"nothing in {within} s: {query} {args}")


async def held_case(database_url: str, report_id: str, within: float = 15) -> asyncpg.Record:
    """The report's case once its unit's queue confirmed it (its `unit_cases` row)."""
    query = "SELECT * FROM unit_cases WHERE report_id = $1"
    return await first_row(database_url, query, uuid.UUID(report_id), within=within)


async def overview_where(
    intake: AsyncTestClient[Any], holds: Callable[[dict[str, Any]], bool], within: float = 30
) -> dict[str, Any]:
    """The operations overview once `holds` is true of it (its monitor reads every second);
    AssertionError with the last answer after `within` seconds."""
    for _ in range(int(within * 10)):
        answer = await intake.get("/v1/ops/overview", headers=auth("ops"))
        if answer.status_code == 200:
            overview: dict[str, Any] = answer.json()
            if holds(overview):
                return overview
        await asyncio.sleep(0.1)
    raise AssertionError(f"no overview held what was wanted in {within} s: {answer.text[:2000]}")


async def take(
    queue: aio_pika.abc.AbstractQueue, count: int
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    got = []
    for _ in range(400):
        message = await queue.get(fail=False)
        if message is not None:
            await message.ack()
            got.append(message)
            if len(got) == count:
                break
        else:
            await asyncio.sleep(0.05)
    return got


def message_ids(messages: list[aio_pika.abc.AbstractIncomingMessage]) -> list[str]:
    """The messages' ids in their order; AssertionError when one has none."""
    ids = [m.message_id for m in messages]
    assert all(ids), ids
    return [i for i in ids if i]


def reason(message: aio_pika.abc.AbstractIncomingMessage) -> str:
    """A dead letter's `x-fsi-reason` header; AssertionError when it is missing or not text."""
    said = message.headers.get("x-fsi-reason")
    assert isinstance(said, str), message.headers
    return said
