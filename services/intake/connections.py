"""The intake's HTTP connections: uvicorn's h11 protocol, which bounds a request head's size,
with a deadline for the head that uvicorn does not have."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

# Written on the socket as it closes: h11 cannot answer a request whose head never ended.
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 39\r\nconnection: close\r\n\r\nthe request head did not arrive in time"
)


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration with the head deadline (a plain attribute, so that the
    configuration still pickles for worker processes)."""

    def __init__(self, *args: Any, header_timeout_seconds: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_seconds = header_timeout_seconds


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, where a connection that is not in the app must deliver a whole
    request head within `header_timeout_seconds` of opening or of the previous answer.

    uvicorn's own timer (timeout_keep_alive) starts only after an answer and stops at the
    first byte received, so a connection that never sends, sends half a head, or dribbles a
    body nobody reads after its answer would stay open for ever. The deadline is absolute
    (bytes arriving do not extend it), as nginx's client_header_timeout is."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._deadline = float(getattr(config, "header_timeout_seconds", 10.0))
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_app():
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
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
        begun, _ = self.conn.trailing_data
        if self.conn.their_state is h11.IDLE and begun:
            self.transport.write(_TIMED_OUT)  # half a head: say why
        self.transport.close()
