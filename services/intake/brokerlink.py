"""The intake's link to RabbitMQ: one connection and confirm channel, and why it is down.

The outbox relay publishes through it; the operations monitor and `/readyz` read its state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Literal

import aio_pika
import aiormq

from services.common import broker
from services.common.logging import get_logger
from services.common.startup import StartupError, where
from services.common.topology import Topology, declare
from services.common.topology_mismatch import TopologyMismatch

# The relay's logger: the link is the relay's connection, and its lines read with the relay's.
log = get_logger("outbox")


@dataclass
class BrokerLink:
    """One connection and confirm channel, opened on demand and dropped on failure.

    `state` is `up`, `down`, or `mismatch` (RabbitMQ answers but holds a queue or exchange of
    ours with other arguments); `problem` says why in one line, naming FSI_BROKER_URL's host
    and port (never its credentials) or the queue and argument that differ, and
    `problem_since` when that problem began (UTC). /readyz shows the state and problem, the
    operations page all three."""

    url: str
    topology: Topology
    connection: aio_pika.abc.AbstractConnection | None = None
    channel: aio_pika.abc.AbstractChannel | None = None
    exchange: aio_pika.abc.AbstractExchange | None = None
    problem: str | None = None
    mismatch: bool = False
    problem_since: dt.datetime | None = None

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.is_closed

    @property
    def state(self) -> Literal["up", "down", "mismatch"]:
        if self.connected and self.problem is None:
            return "up"
        return "mismatch" if self.mismatch else "down"

    async def ensure(self) -> aio_pika.abc.AbstractExchange:
        if (
            self.exchange is not None
            and self.connected
            and self.channel
            and not self.channel.is_closed
        ):
            return self.exchange
        await self.close()
        try:
            self.connection = await broker.connect(self.url, wait_seconds=5)
        except StartupError as exc:  # not an AMQP URL: a broker failure like the others
            raise aio_pika.exceptions.AMQPConnectionError(str(exc)) from None
        self.channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        await declare(self.channel, self.topology)
        self.exchange = await self.channel.get_exchange(self.topology.reports_exchange.name)
        self.problem, self.mismatch, self.problem_since = None, False, None
        log.info("broker connected", broker=where(self.url, broker.port_of(self.url)))
        return self.exchange

    def failed(self, exc: BaseException) -> bool:
        """Note why the broker cannot be used; True when that differs from the last reason
        (worth a log line)."""
        if isinstance(exc, aio_pika.exceptions.AMQPConnectionError) and str(exc).startswith(
            "FSI_BROKER_URL"
        ):
            problem = str(exc)
        elif isinstance(exc, aiormq.exceptions.PublishError):
            problem = (
                f"RabbitMQ returned the reports: no queue is bound for them (is "
                f"'{self.topology.routing_queue.name}' missing? it is declared again)"
            )
        else:
            problem = str(broker.broker_error(exc, self.url))
        changed = problem != self.problem
        if changed:
            self.problem_since = dt.datetime.now(dt.UTC)
        self.problem, self.mismatch = problem, isinstance(exc, TopologyMismatch)
        return changed

    async def close(self) -> None:
        connection, self.connection, self.channel, self.exchange = self.connection, None, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
