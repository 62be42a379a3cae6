"""The intake's HTTP connections: uvicorn's protocols with a bound on a request head's size and
a deadline for it, which uvicorn does not have."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Written on the socket as it closes: the protocol cannot answer a request whose head never
# ended.
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 39\r\nconnection: close\r\n\r\nthe request head did not arrive in time"
)


_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8"
    b"\r\ncontent-length: 29\r\nconnection: close\r\n\r\nthe request head is too large"
)


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration with the head deadline (a plain attribute, so that the
    configuration still pickles for worker processes)."""

    def __init__(
        self,
        *args: Any,
        header_timeout_seconds: float = 10.0,
        max_header_bytes: int = 16 * 1024,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_seconds = header_timeout_seconds
        self.max_header_bytes = max_header_bytes


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (llhttp, in C) with the two bounds on a request head
    that uvicorn lacks.

    Size: bytes received while no request of the connection is in the app are a head's;
    past `max_header_bytes` the connection gets 431 (RFC 6585 section 5) and is closed.
    Time: a connection not in the app must deliver a whole head within
    `header_timeout_seconds` of opening or of the previous answer. uvicorn's own timer
    (timeout_keep_alive) starts only after an answer and stops at the first byte received,
    so a connection that never sends, sends half a head, or dribbles a body nobody reads
    after its answer would stay open for ever. The deadline is absolute (bytes arriving do
    not extend it), as nginx's client_header_timeout is."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._deadline = float(getattr(config, "header_timeout_seconds", 10.0))
        self._head_timer: asyncio.TimerHandle | None = None
        self._max_head = int(getattr(config, "max_header_bytes", 16 * 1024))
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_app():
            # The head ended in this chunk (what follows it is body, not counted).
            self._head_bytes = 0
            self._disarm()
            return
        if self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > self._max_head:
            self._disarm()
            self.transport.write(_TOO_LARGE)
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._head_bytes = 0
        # A pipelined request may have gone into the app already; else wait for the next head.
        if not self.transport.is_closing() and not self._in_app():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _in_app(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self._deadline, self._timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._in_app():
            return
        if self._head_bytes:
            self.transport.write(_TIMED_OUT)  # half a head: say why
        self.transport.close()
