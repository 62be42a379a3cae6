"""`fsi-router`: load the rules, declare the unit queues, route reports (and the cases people
decided) and apply the units' case events until stopped.

The rules file is checked and swapped in atomically when it changes (polled) or on SIGHUP;
an invalid file is refused, logged and counted, and the running rules stay. What stops a
start (a setting, a rules file, PostgreSQL or RabbitMQ out of reach, a queue the broker holds
with other arguments, FSI_METRICS_PORT in use) is one line on stderr and an exit code
(services.common.startup).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

import aio_pika
import asyncpg

from services.common import broker, db, startup
from services.common import logging as fsi_logging
from services.common.rules import files
from services.common.rules.reading import RulesError
from services.common.rules.ruleset import RuleSet
from services.common.topology import Topology, declare
from services.routing import caseevents_consumer, metrics, rules_store
from services.routing.caseevents_consumer import CaseEvents
from services.routing.consumer import Sequencer
from services.routing.deliveries import TRANSIENT
from services.routing.handler import Router
from services.routing.person_cases import PersonCases
from services.routing.settings import RoutingSettings
from services.routing.waiting import WaitingCases

log = fsi_logging.get_logger("router")


@dataclass
class RulesWatch:
    """Reloads the rule set when its files change; keeps the old one when the new is bad.

    Every load and refusal is logged, counted and recorded in `rule_loads`."""

    settings: RoutingSettings
    router: Router
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    reloads_ok: int = 0
    reloads_failed: int = 0

    def _stamp(self) -> files.Stamp:
        return files.stamp(self.settings.rules)

    async def reload(self) -> bool:
        try:
            fresh = files.reload_rules(self.settings.rules, self.router.ruleset)
        except (RulesError, OSError) as exc:
            await self._refused(str(exc))
            return False
        self.router.ruleset = fresh
        self.reloads_ok += 1
        metrics.reloads.labels("loaded").inc()
        log.info("rules reloaded", version=fresh.version, rules=len(fresh.rules))
        await self.loaded(fresh)
        return True

    async def loaded(self, ruleset: RuleSet) -> None:
        metrics.ruleset.info({"version": ruleset.version})
        metrics.rules_refused.set(0)
        metrics.ruleset_loaded.set_to_current_time()
        with contextlib.suppress(*TRANSIENT):
            await rules_store.record_load(self.router.pool, self.name, ruleset)

    async def _refused(self, error: str) -> None:
        self.reloads_failed += 1
        metrics.reloads.labels("refused").inc()
        metrics.rules_refused.set(1)
        log.error("rules refused; the running rules stay", error=error)
        with contextlib.suppress(*TRANSIENT):
            await rules_store.record_refusal(self.router.pool, self.name, error)

    async def watch(self, seconds: float = 2.0) -> None:
        stamp = self._stamp()
        while True:
            await asyncio.sleep(seconds)
            with contextlib.suppress(OSError):
                now = self._stamp()
                if now != stamp:
                    stamp = now
                    await self.reload()


def load_rules(settings: RoutingSettings) -> RuleSet:
    """The compiled rule set named by the settings."""
    return files.load_rules(settings.rules)


def rules_error(exc: RulesError | OSError, settings: RoutingSettings) -> startup.StartupError:
    """A rules or units file that cannot be loaded, naming its setting."""
    return files.rules_error(exc, settings.rules)


async def _connect(
    settings: RoutingSettings, topology: Topology
) -> tuple[asyncpg.Pool, aio_pika.abc.AbstractConnection, aio_pika.abc.AbstractChannel]:
    """The pool, the broker connection and the confirming channel with the topology
    declared; a `StartupError` naming the setting, host and port when one fails."""
    pool = await db.open_database(
        settings.db,
        # Outside development only a login of the service's own role may be used.
        service_role=None if settings.environment == "development" else "fsi_router",
    )
    try:
        connection = await broker.connect(settings.broker.url, robust=True)
    except broker.CONNECT_ERRORS as exc:
        await pool.close()
        raise broker.broker_error(exc, settings.broker.url) from None
    try:
        channel = await _confirming(connection, settings)
        await declare(channel, topology)
    except broker.BROKER_ERRORS as exc:
        await connection.close()
        await pool.close()
        raise broker.broker_error(exc, settings.broker.url) from None
    return pool, connection, channel


async def _confirming(
    connection: aio_pika.abc.AbstractConnection, settings: RoutingSettings
) -> aio_pika.abc.AbstractChannel:
    """A channel with publisher confirms, returns raised and the consumer's prefetch."""
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    await channel.set_qos(prefetch_count=settings.consumer.prefetch)
    return channel


async def serve(
    settings: RoutingSettings,
    stop: asyncio.Event,
    on_start: Callable[[RulesWatch], object] | None = None,
) -> None:
    """Route until `stop` is set; `on_start` receives the rules watch once consuming.

    Raises `StartupError` when the rules, PostgreSQL, RabbitMQ or the metrics endpoint's
    address stop it from starting."""
    try:
        ruleset = load_rules(settings)
    except (RulesError, OSError) as exc:
        raise rules_error(exc, settings) from None
    topology = Topology.of(settings.broker, ruleset.catalogue.units)
    # First: a port in use stops the start before anything connects, in one line.
    endpoint = (
        metrics.serve(settings.metrics.host, settings.metrics.port)
        if settings.metrics.enabled
        else None
    )
    try:
        pool, connection, channel = await _connect(settings, topology)
    except BaseException:
        _stop_serving(endpoint)
        raise
    metrics.known_units(topology.units)
    try:
        router = Router(pool=pool, topology=topology, ruleset=ruleset)
        await router.bind(channel)
        consumer = Sequencer(router.route)
        queue = await channel.get_queue(topology.routing_queue.name)
        # People's decisions on a channel of their own: acknowledgements are per channel.
        person = PersonCases(pool=pool, topology=topology)
        person_channel = await _confirming(connection, settings)
        await person.bind(person_channel)
        person_consumer = Sequencer(person.route)
        decisions = await person_channel.get_queue(topology.decisions_queue.name)
        # The units' case events, on a channel of their own too.
        events = CaseEvents(pool=pool, topology=topology)
        events_channel = await _confirming(connection, settings)
        await events_channel.set_qos(prefetch_count=caseevents_consumer.PREFETCH)
        await events.bind(events_channel)
        # One batch at a time: a case's events are applied in the order they came.
        events_consumer = Sequencer(
            events.route, max_batch=caseevents_consumer.MAX_BATCH, batches_in_flight=1
        )
        case_events = await events_channel.get_queue(topology.case_events_queue.name)
        watch = RulesWatch(settings, router)
        await watch.loaded(ruleset)
        watcher = asyncio.create_task(watch.watch())
        waiting = asyncio.create_task(WaitingCases(router, person).run())
        loop = asyncio.get_running_loop()
        reloads: set[asyncio.Task[bool]] = set()

        def on_sighup() -> None:
            task = asyncio.create_task(watch.reload())
            reloads.add(task)  # held, so the task is not collected before it ran
            task.add_done_callback(reloads.discard)

        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, on_sighup)
        tag = await queue.consume(consumer.handle)
        person_tag = await decisions.consume(person_consumer.handle)
        events_tag = await case_events.consume(events_consumer.handle)
        log.info("router started", ruleset=ruleset.version, units=len(topology.units))
        if on_start is not None:
            on_start(watch)
        await stop.wait()
        await queue.cancel(tag)
        await decisions.cancel(person_tag)
        await case_events.cancel(events_tag)
        watcher.cancel()
        waiting.cancel()
        # The batches on their way finish first, so a stop leaves few reports to redeliver.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(
                    consumer.drained(), person_consumer.drained(), events_consumer.drained()
                ),
                settings.consumer.drain_seconds,
            )
    finally:
        await connection.close()
        await pool.close()
        _stop_serving(endpoint)
        log.info("router stopped")


def _stop_serving(endpoint: tuple[WSGIServer, threading.Thread] | None) -> None:
    if endpoint is not None:
        endpoint[0].shutdown()
        endpoint[0].server_close()


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="fsi-router",
        description=(
            "Route accepted reports: consume the routing queue, decide with the rules, store "
            "the decision, publish each case to its unit's queue with confirms."
        ),
        epilog=(
            "Settings come from the environment: FSI_DB_URL, FSI_BROKER_URL, "
            "FSI_BROKER_PREFIX, FSI_RULES_FILE, FSI_RULES_UNITS_FILE, FSI_CONSUMER_PREFETCH, "
            "FSI_METRICS_PORT (README.md, Settings). Exit codes: 69 PostgreSQL or RabbitMQ "
            "unreachable or FSI_METRICS_PORT in use, 76 RabbitMQ holds a queue or exchange "
            "with other arguments, 78 a setting or file is wrong."
        ),
    )


def main() -> None:
    """Load settings and rules (exit with one line when they, PostgreSQL or RabbitMQ stop
    the start) and route until SIGTERM or SIGINT."""
    _parser().parse_args()
    settings = startup.settings_or_exit(RoutingSettings, "fsi-router")
    fsi_logging.configure(settings.log)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(settings, stop)

    try:
        asyncio.run(run())
    except startup.StartupError as exc:
        startup.fail("fsi-router", exc)


if __name__ == "__main__":
    main()
