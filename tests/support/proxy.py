"""A TCP proxy of the tests' own, to cut and restore a real connection to a real service.

It runs on an event loop in a thread of its own, so it keeps forwarding while the test's
loop is blocked (Litestar's test client starts the app through a blocking portal).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


AMQP_HEADER = 8  # b"AMQP\x00\x00\x09\x01", sent once by the client
BASIC_ACK = (60, 80)  # class and method ids of basic.ack in AMQP 0-9-1


def amqp_frames(buffer: bytearray) -> list[bytes]:
    """Take the complete AMQP frames off the front of `buffer` (type, channel, size,
    payload, end octet)."""
    frames = []
    while len(buffer) >= 7:
        size = int.from_bytes(buffer[3:7], "big")
        if len(buffer) < 8 + size:
            break
        frames.append(bytes(buffer[: 8 + size]))
        del buffer[: 8 + size]
    return frames


def is_basic_ack(frame: bytes) -> bool:
    method = (int.from_bytes(frame[7:9], "big"), int.from_bytes(frame[9:11], "big"))
    return frame[0] == 1 and method == BASIC_ACK


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; `cut()` drops every connection and refuses new
    ones until `restore()`, as an outage looks from the client's side.

    With `hold_first_ack`, the client's AMQP traffic is forwarded frame by frame until its
    first basic.ack, which is held with everything after it: the broker has seen the
    client's publishes but never the acknowledgement, the moment of a crash between the two
    (`held` is set then)."""

    def __init__(self, target_host: str, target_port: int, hold_first_ack: bool = False) -> None:
        self.target = (target_host, target_port)
        self.hold_first_ack = hold_first_ack
        self.held = threading.Event()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    async def _on_own_loop(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def start(self) -> None:
        await self._on_own_loop(self._start())

    async def cut(self) -> None:
        await self._on_own_loop(self._cut())

    async def restore(self) -> None:
        await self._on_own_loop(self._start())

    async def stop(self) -> None:
        await self._on_own_loop(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update({writer, up_writer})
        upstream = self._hold_at_ack if self.hold_first_ack else self._pipe
        for task in (
            asyncio.create_task(upstream(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ):
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
            self._writers.discard(writer)

    async def _hold_at_ack(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            writer.write(await reader.readexactly(AMQP_HEADER))
            buffer = bytearray()
            while data := await reader.read(65536):
                buffer += data
                for frame in amqp_frames(buffer):
                    if self.held.is_set() or is_basic_ack(frame):
                        self.held.set()
                        continue
                    writer.write(frame)
                await writer.drain()
        except (OSError, asyncio.CancelledError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
            self._writers.discard(writer)
