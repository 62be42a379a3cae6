"""How the operations monitor reads RabbitMQ's queues: passive declares, or the management API."""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import aio_pika
import httpx

from services.common import broker
from services.intake.ops_views import QueueState
from services.intake.settings import OpsSettings

# What reading the queues may meet: the broker's failures, the management API's, and the
# RuntimeError aio-pika raises on a connection that died under it.
READ_ERRORS: tuple[type[Exception], ...] = (*broker.BROKER_ERRORS, httpx.HTTPError, RuntimeError)


class QueueReader(Protocol):
    """Reads queues by name. `read` answers every name asked for (a queue RabbitMQ does not
    hold is `missing`) and raises one of `READ_ERRORS` when RabbitMQ cannot be read; `close`
    lets go of whatever it holds between reads (it may be read again afterwards)."""

    async def read(self, names: Sequence[str]) -> dict[str, QueueState]: ...

    async def close(self) -> None: ...


@dataclass
class DeclareReader:
    """Passive declares on a connection kept between reads: ready messages and consumers,
    not unacknowledged messages (AMQP does not say)."""

    broker_url: str
    _connection: aio_pika.abc.AbstractConnection | None = None

    async def read(self, names: Sequence[str]) -> dict[str, QueueState]:
        if self._connection is None or self._connection.is_closed:
            self._connection = await aio_pika.connect(self.broker_url, timeout=5)
        channel = await self._connection.channel()
        states: dict[str, QueueState] = {}
        try:
            for name in names:
                try:
                    queue = await channel.declare_queue(name, passive=True)
                except aio_pika.exceptions.ChannelNotFoundEntity:
                    # A missing queue closes the channel; note it and go on with a new one.
                    states[name] = QueueState(name, missing=True)
                    channel = await self._connection.channel()
                    continue
                result = queue.declaration_result
                states[name] = QueueState(name, result.message_count, None, result.consumer_count)
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
        return states

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None


@dataclass(frozen=True)
class ManagementReader:
    """RabbitMQ's management API (`management_url`, credentials in it), one request per
    read for the virtual host of `broker_url`: ready, unacknowledged and consumers."""

    management_url: str
    broker_url: str

    async def read(self, names: Sequence[str]) -> dict[str, QueueState]:
        url = urllib.parse.urlsplit(self.management_url)
        vhost = urllib.parse.quote(urllib.parse.urlsplit(self.broker_url).path[1:] or "/", safe="")
        base = url._replace(netloc=(url.hostname or "") + (f":{url.port}" if url.port else ""))
        auth = (urllib.parse.unquote(url.username or ""), urllib.parse.unquote(url.password or ""))
        async with httpx.AsyncClient(auth=auth, timeout=5) as client:
            answer = await client.get(
                f"{base.geturl().rstrip('/')}/api/queues/{vhost}",
                params={"columns": "name,messages_ready,messages_unacknowledged,consumers"},
            )
            answer.raise_for_status()
        found = {q["name"]: q for q in answer.json()}
        return {
            name: QueueState(
                name,
                found[name].get("messages_ready"),
                found[name].get("messages_unacknowledged"),
                found[name].get("consumers"),
            )
            if name in found
            else QueueState(name, missing=True)
            for name in names
        }

    async def close(self) -> None:
        """Nothing is held between reads."""


def queue_reader(settings: OpsSettings, broker_url: str) -> QueueReader:
    """The management API's reader when `FSI_OPS_MANAGEMENT_URL` is set, else passive
    declares on `broker_url`."""
    if settings.management_url:
        return ManagementReader(settings.management_url, broker_url)
    return DeclareReader(broker_url)
