"""A router killed between publishing and acknowledging, as the crash tests stage it: a
first router behind a proxy that holds its first acknowledgement, a second taking over, and
what the queues hold afterwards (each copy of a message the same)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.intake.app import create_app
from services.intake.settings import IntakeSettings, StandardiseSettings
from tests.support.processes import ServiceProcess
from tests.support.proxy import TcpProxy


def router_env(database_url: str, broker_url: str, prefix: str) -> dict[str, str]:
    """The environment of a router process on this database, broker and queue prefix."""
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
    """The intake with its relay, taking the examples' synthetic identity numbers."""
    settings = msgspec.structs.replace(
        intake_settings(), standardise=StandardiseSettings(accept_synthetic_ids=True)
    )
    async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
        yield client


@dataclass
class Routers:
    """`first` reaches the broker through `proxy` (it holds the first `basic.ack`); `second`
    reaches it directly. Neither is started."""

    proxy: TcpProxy
    first: ServiceProcess
    second: ServiceProcess

    async def kill_first_after_a_confirm(self, within: float = 30) -> None:
        """Once the proxy holds the first router's first acknowledgement (a queue confirmed
        a case, the broker saw no acknowledgement): SIGKILL it, cut its connections, start
        the second. AssertionError with the first's output after `within` seconds."""
        deadline = time.monotonic() + within
        while not self.proxy.held.is_set():
            assert time.monotonic() < deadline, (
                "the first router never acknowledged: " + self.first.output[-2000:]
            )
            await asyncio.sleep(0.02)
        self.first.kill()
        await self.proxy.cut()
        self.second.start()


@contextlib.asynccontextmanager
async def routers(env: dict[str, str], amqp_url: str, logs: Path) -> AsyncIterator[Routers]:
    """Two routers of `env` (logs `a.log` and `b.log` in `logs`), the first through a proxy
    to `amqp_url`; the first killed, the second stopped and the proxy stopped at the end."""
    broker = urlsplit(amqp_url)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672, hold_first_ack=True)
    await proxy.start()
    through_proxy = urlunsplit(broker._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}"))
    made = Routers(
        proxy,
        ServiceProcess(
            "services.routing.main", {**env, "FSI_BROKER_URL": through_proxy}, logs / "a.log"
        ),
        ServiceProcess("services.routing.main", env, logs / "b.log"),
    )
    try:
        yield made
    finally:
        made.first.kill()
        made.second.stop()
        await proxy.stop()


async def until_empty(channel: aio_pika.abc.AbstractChannel, queue: str, tries: int = 200) -> None:
    """Until the queue holds no message ready (the routers took and acknowledged them), at
    most `tries` looks 50 ms apart; it returns either way, the test then checks the rest."""
    for _ in range(tries):
        declared = await channel.declare_queue(queue, passive=True)
        if declared.declaration_result.message_count == 0:
            return
        await asyncio.sleep(0.05)


async def taken(
    channel: aio_pika.abc.AbstractChannel,
    queues: Iterable[str],
    check: Callable[[bytes], object] = bytes,
) -> collections.Counter[str]:
    """Every message of the queues, acknowledged, counted by message id; AssertionError when
    two copies of one message differ. `check` reads each body (it raises when the body is
    not what the queue should hold); what it returns shows in the AssertionError."""
    seen: collections.Counter[str] = collections.Counter()
    bodies: dict[str, bytes] = {}
    for name in queues:
        queue = await channel.get_queue(name)
        while (message := await queue.get(fail=False)) is not None:
            await message.ack()
            assert message.message_id is not None
            seen[message.message_id] += 1
            read = check(message.body)
            # Every copy of a message is the same message.
            assert bodies.setdefault(message.message_id, message.body) == message.body, read
    return seen
