"""What the benchmarks share: a scratch database, rates, publishing and polling, the raw loop
and the real router under test, all on the local PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import aio_pika
import asyncpg

from bench import logins
from schemas.envelope import CONTENT_TYPE
from services.common import migrate
from services.common.settings import BrokerSettings, DatabaseSettings, LogSettings, RulesSettings
from services.common.topology import Topology, delete
from services.routing.main import RulesWatch, serve
from services.routing.settings import ConsumerSettings, MetricsSettings, RoutingSettings

ADMIN_URL = os.environ.get(
    "FSI_BENCH_ADMIN_DB_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("FSI_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PHASE_LIMIT = 600.0  # seconds; a phase that takes longer has stalled
FORWARD_KEY = "raw"  # the routing key the raw loop forwards under


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[tuple[str, str]]:
    """A migrated database of this run's own and a broker prefix named alike, as (URL,
    prefix); the database is dropped at the end whatever happened. The broker objects are the
    caller's to delete: only it knows which it declared."""
    run = uuid.uuid4().hex[:8]
    db_name, prefix = f"fsi_bench_{run}", f"bench.{run}."
    db_url = ADMIN_URL.rsplit("/", 1)[0] + f"/{db_name}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{db_name}"')
    finally:
        await admin.close()
    try:
        await migrate.migrate(db_url)
        yield db_url, prefix
    finally:
        admin = await asyncpg.connect(ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        finally:
            await admin.close()


async def remove_broker_objects(
    prefix: str, units: Sequence[str], queues: Sequence[str], exchanges: Sequence[str] = ()
) -> None:
    """The topology under `prefix` with the units' queues (the router declares the
    catalogue's), and the benchmark's own queues and exchanges, named without the prefix."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await delete(channel, Topology(prefix=prefix, units=tuple(units)))
        for name in queues:
            await channel.queue_delete(f"{prefix}{name}")
        for name in exchanges:
            await channel.exchange_delete(f"{prefix}{name}")


@dataclass(frozen=True, slots=True)
class Rate:
    """Items done in wall-clock seconds, with this process's CPU seconds meanwhile."""

    items: int
    seconds: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.items / self.seconds

    @property
    def cpu_share(self) -> str:
        """This process's CPU: share of one core, and µs per item."""
        return f"{self.cpu / self.seconds:.0%}, {self.cpu / self.items * 1e6:,.0f} µs/item"


class Stopwatch:
    """Wall-clock and process CPU time from creation to `stop`."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self, items: int) -> Rate:
        return Rate(items, time.perf_counter() - self.wall, time.process_time() - self.cpu)


def router_over_raw(router: Rate, raw_before: Rate, raw_after: Rate) -> float:
    """The router's rate over the mean of the raw loop's two rates (the broker's disk drifts,
    so the raw loop runs before and after the router)."""
    return router.per_second / ((raw_before.per_second + raw_after.per_second) / 2)


async def publish_all(
    exchange: aio_pika.abc.AbstractExchange,
    message_type: str,
    messages: Sequence[tuple[str, str, bytes]],
    in_flight: int = 200,
) -> None:
    """Publish (routing key, message id, body) messages of one type, persistent JSON with
    confirms, `in_flight` at a time."""
    semaphore = asyncio.Semaphore(in_flight)

    async def one(key: str, message_id: str, body: bytes) -> None:
        async with semaphore:
            await exchange.publish(
                aio_pika.Message(
                    body,
                    message_id=message_id,
                    type=message_type,
                    content_type=CONTENT_TYPE,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=key,
                timeout=30,
            )

    await asyncio.gather(*(one(*message) for message in messages))


async def count_messages(channel: aio_pika.abc.AbstractChannel, names: Sequence[str]) -> int:
    """Ready messages in the named queues (a passive declare each)."""
    total = 0
    for name in names:
        queue = await channel.declare_queue(name, passive=True)
        total += queue.declaration_result.message_count or 0
    return total


async def until(poll: Callable[[], Awaitable[int]], target: int, interval: float) -> None:
    """Poll until the polled count reaches `target` (down to it when it starts above);
    `TimeoutError` after `PHASE_LIMIT` seconds."""
    limit = time.perf_counter() + PHASE_LIMIT
    current = await poll()
    falling = current > target
    while (current > target) if falling else (current < target):
        if time.perf_counter() > limit:
            raise TimeoutError(f"stalled at {current} messages, waiting for {target}")
        await asyncio.sleep(interval)
        current = await poll()


async def raw_loop(queue_in: str, count: int, prefetch: int, forward_to: str | None = None) -> Rate:
    """Consume `count` messages and acknowledge each; with `forward_to`, first publish each
    body to that exchange (persistent, confirmed) and acknowledge after the confirm; messages
    per second."""
    forwarding = forward_to is not None
    connection = await aio_pika.connect_robust(AMQP_URL)
    async with connection:
        channel = await connection.channel(
            publisher_confirms=forwarding, on_return_raises=forwarding
        )
        await channel.set_qos(prefetch_count=prefetch)
        out = await channel.get_exchange(forward_to) if forward_to is not None else None
        queue = await channel.get_queue(queue_in)
        done = asyncio.Event()
        handled = 0

        async def handle(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            nonlocal handled
            if out is not None:
                await out.publish(
                    aio_pika.Message(
                        message.body,
                        message_id=message.message_id,
                        content_type=message.content_type,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=FORWARD_KEY,
                    timeout=10,
                )
            await message.ack()
            handled += 1
            if handled == count:
                done.set()

        watch = Stopwatch()
        tag = await queue.consume(handle)
        await asyncio.wait_for(done.wait(), PHASE_LIMIT)
        rate = watch.stop(count)
        await queue.cancel(tag)
    return rate


@dataclass(frozen=True, slots=True)
class Serving:
    """The router under test once it consumes: its rules watch (and so its `Router`), a
    stopwatch started that moment, and the seconds it took from launch to get there."""

    rules: RulesWatch
    watch: Stopwatch
    startup: float


@contextlib.asynccontextmanager
async def serving_router(
    db_url: str, prefix: str, on_consuming: Callable[[], object] | None = None
) -> AsyncIterator[Serving]:
    """The real router (`serve()`, default settings, log level WARNING) on `db_url` as
    production runs it, a login of its own in fsi_router; entered once it consumes (after
    `on_consuming`, called that moment), stopped on exit."""
    settings = RoutingSettings(
        db=DatabaseSettings(
            url=await logins.service_url(db_url, "fsi_router"), migrate_on_start=False
        ),
        broker=BrokerSettings(url=AMQP_URL, prefix=prefix),
        log=LogSettings(level="WARNING"),
        rules=RulesSettings(),
        consumer=ConsumerSettings(),
        metrics=MetricsSettings(enabled=False),
    )
    stop, consuming = asyncio.Event(), asyncio.Event()
    launched = time.perf_counter()
    started: list[Serving] = []

    def on_start(rules: RulesWatch) -> None:
        started.append(Serving(rules, Stopwatch(), time.perf_counter() - launched))
        if on_consuming is not None:
            on_consuming()
        consuming.set()

    task = asyncio.create_task(serve(settings, stop, on_start))
    try:
        waiting = asyncio.create_task(consuming.wait())
        await asyncio.wait({waiting, task}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            waiting.cancel()
            task.result()
            raise RuntimeError("the router stopped before consuming")
        yield started[0]
    finally:
        stop.set()
        await task
