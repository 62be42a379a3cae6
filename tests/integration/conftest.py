"""The intake app against the real PostgreSQL and RabbitMQ, under a prefix of the test's own."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from services.common.settings import BrokerSettings, DatabaseSettings, LogSettings, RulesSettings
from services.common.topology import Topology, declare
from services.intake.app import create_app
from services.intake.settings import AccessSettings, IntakeSettings, RelaySettings
from services.routing.settings import MetricsSettings, RoutingSettings
from tests.support import people
from tests.support.clients import CLIENTS_YAML

ROOT = Path(__file__).parents[2]


@pytest.fixture
async def owner(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """The test database as its owner, to write what the router, the workbench and the units
    write before the code under test reads it."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture
def clients_file(tmp_path: Path) -> Path:
    path = tmp_path / "clients.yaml"
    path.write_text(CLIENTS_YAML, "utf-8")
    return path


@pytest.fixture
def intake_settings(
    intake_database_url: str,
    amqp_url: str,
    clients_file: Path,
    make_topology: Callable[..., Topology],
) -> Callable[..., IntakeSettings]:
    topology = make_topology()

    def build(broker_url: str | None = None, **relay: Any) -> IntakeSettings:
        return IntakeSettings(
            # As a deployment runs it: its own login, a member of fsi_intake, not the owner.
            db=DatabaseSettings(url=intake_database_url, pool_min=1, pool_max=4),
            broker=BrokerSettings(url=broker_url or amqp_url, prefix=topology.prefix),
            log=LogSettings(format="json", level="INFO"),
            access=AccessSettings(
                clients_file=str(clients_file), rate_per_second=1000, rate_burst=1000
            ),
            relay=RelaySettings(**{"poll_seconds": 0.2, "reconnect_seconds": 0.2, **relay}),
            # People's tokens are the local OIDC test provider's (tests/support/people.py).
            oidc=people.oidc_settings(),
        )

    return build


@pytest.fixture(scope="session")
def oidc_issuer() -> str:
    """The local OIDC test provider's issuer, started when it does not answer
    (deploy/oidc-provider.sh): a clean clone in CI has none running."""
    try:
        return people.ensure_provider()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def router_settings(
    tmp_path: Path,
    router_database_url: str,
    amqp_url: str,
    intake_settings: Callable[..., IntakeSettings],
) -> Callable[..., RoutingSettings]:
    """The router's settings beside the intake's: its own login (a member of fsi_router),
    the intake's prefix, a copy of the default rules in the test's directory (a test may
    change it), metrics off (a router in this process counts in its registry)."""
    rules_file = tmp_path / "rules.yaml"
    shutil.copy(ROOT / "deploy" / "routing" / "rules.yaml", rules_file)
    prefix = intake_settings().broker.prefix

    def build(**db: Any) -> RoutingSettings:
        return RoutingSettings(
            # The template database is migrated already.
            db=DatabaseSettings(
                **{
                    "url": router_database_url,
                    "pool_min": 1,
                    "pool_max": 4,
                    "migrate_on_start": False,
                    **db,
                }
            ),
            broker=BrokerSettings(url=amqp_url, prefix=prefix),
            log=LogSettings(),
            rules=RulesSettings(file=str(rules_file)),
            metrics=MetricsSettings(enabled=False),
        )

    return build


@pytest.fixture
async def intake(
    intake_settings: Callable[..., IntakeSettings],
) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(intake_settings(), configure_logging=False)
    async with AsyncTestClient(app) as client:
        yield client


@pytest.fixture
async def routing_queue(
    amqp_url: str, intake_settings: Callable[..., IntakeSettings]
) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """The router's input queue, to see what the intake published."""
    prefix = intake_settings().broker.prefix
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    topology = Topology(prefix=prefix)
    await declare(channel, topology)
    yield await channel.get_queue(topology.routing_queue.name)
    await connection.close()


def unique(prefix: str = "ext") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def drain(
    queue: aio_pika.abc.AbstractQueue, expected: int, within: float = 10.0
) -> list[Any]:
    """Messages from the queue until `expected` arrived or `within` seconds passed, then a
    little longer to catch extras (a duplicate publish would show up here)."""
    got: list[Any] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        message = await queue.get(fail=False)
        if message is None:
            if len(got) >= expected:
                await asyncio.sleep(0.5)
                extra = await queue.get(fail=False)
                if extra is None:
                    break
                await extra.ack()
                got.append(extra)
                continue
            await asyncio.sleep(0.05)
            continue
        await message.ack()
        got.append(message)
    return got


# The whole-stack fixture, for every integration test module that asks for it.
from tests.integration.stack import stack  # noqa: E402, F401
