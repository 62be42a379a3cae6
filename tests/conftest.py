"""Test harness: a PostgreSQL database and a RabbitMQ name prefix of the run's own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aio_pika
import asyncpg
import pytest

from services.common import logging as fsi_logging
from services.common import migrate
from services.common.settings import LogSettings
from services.common.topology import QueueType, Topology
from services.common.topology import delete as delete_topology
from tests import harness

INTEGRATION_DIR = Path(__file__).parent / "integration"
RUN_ID = uuid.uuid4().hex[:8]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def endpoints() -> Iterator[harness.Endpoints]:
    with harness.endpoints() as found:
        yield found


@pytest.fixture(scope="session")
async def admin_db_url(endpoints: harness.Endpoints) -> str:
    if not harness.reachable(endpoints.database_url, 5432):
        pytest.fail(f"PostgreSQL is not reachable: {harness.HOW_TO_START['PostgreSQL']}")
    return endpoints.database_url


@pytest.fixture(scope="session")
async def template_database_url(admin_db_url: str) -> AsyncIterator[str]:
    """A database of this run's own, migrated once; tests get copies of it."""
    name = f"fsi_test_{RUN_ID}"
    await _admin(admin_db_url, f'CREATE DATABASE "{name}"')
    url = harness.with_database(admin_db_url, name)
    await migrate.migrate(url)
    yield url
    await _admin(admin_db_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def database_url(admin_db_url: str, template_database_url: str) -> AsyncIterator[str]:
    """A migrated database of this test's own (a copy of the run's template), dropped after."""
    name = f"fsi_test_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    template = template_database_url.rsplit("/", 1)[1]
    await _admin(admin_db_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield harness.with_database(admin_db_url, name)
    await _admin(admin_db_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def amqp_url(endpoints: harness.Endpoints) -> str:
    if not harness.reachable(endpoints.amqp_url, 5672):
        pytest.fail(f"RabbitMQ is not reachable: {harness.HOW_TO_START['RabbitMQ']}")
    return endpoints.amqp_url


@pytest.fixture
async def make_topology(amqp_url: str) -> AsyncIterator[Callable[..., Topology]]:
    """Topologies under a prefix of this test's own; their queues are deleted afterwards."""
    prefix = f"t{RUN_ID}.{uuid.uuid4().hex[:8]}."
    made: list[Topology] = []

    def make(units: tuple[str, ...] = (), queue_type: QueueType = "classic") -> Topology:
        made.append(Topology(prefix=prefix, queue_type=queue_type, units=units))
        return made[-1]

    yield make
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for topo in made:
            await delete_topology(channel, topo)


@pytest.fixture(scope="session", autouse=True)
def redacting_logs() -> None:
    """Every log line the suite writes goes through the services' own redaction."""
    fsi_logging.configure(LogSettings(format="json", level="INFO"))
