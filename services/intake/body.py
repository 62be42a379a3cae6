"""Request bodies: read within a size and a time limit, a gzip or deflate coding undone within
the same size limit, and the rest of a refused body read before the answer goes out."""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

from litestar import Request
from litestar.enums import ScopeType
from litestar.exceptions import InternalServerException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from services.intake.problems import problem, too_large
from services.intake.state import limits_of

# The codings undone (RFC 9110 section 8.4.1), as a 415 lists them in Accept-Encoding
# (RFC 7694 section 3). `x-gzip` is gzip (RFC 9110 section 8.4.1.3); `identity` is none.
ACCEPT_ENCODING = "gzip, deflate"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_ALIASES = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}
_FORMS = {"gzip": "gzip data (RFC 1952)", "deflate": "deflate data in zlib form (RFC 1950)"}
# A body refused before it was read is read and dropped up to this many more bytes before
# the answer, so a client that sends all of it before reading sees the answer, not a reset.
DRAIN_BYTES = 16 * 1_048_576


def coding_of(values: list[str]) -> str | None:
    """The content coding to undo (`gzip` or `deflate`), or None for none, from the
    Content-Encoding header lines; any other coding, or more than one, is a 415 naming it
    with `Accept-Encoding` (RFC 7694 section 3)."""
    named = [c.strip().lower() for value in values for c in value.split(",")]
    named = [c for c in named if c and c != "identity"]
    if not named:
        return None
    if len(named) == 1 and named[0] in _ALIASES:
        return _ALIASES[named[0]]
    # What was sent is not repeated: a header's value is the client's text, whatever it holds.
    several = "more than one content coding" if len(named) > 1 else "this content coding"
    raise problem(
        415,
        "unsupported-content-encoding",
        "Unsupported content encoding",
        f"{several} is not supported; send the body without a Content-Encoding, "
        f"or in one of: {ACCEPT_ENCODING}",
        headers={"Accept-Encoding": ACCEPT_ENCODING},
    )


def _not_coded(coding: str, why: str) -> ProblemDetailsException:
    return problem(
        400,
        "malformed-content-encoding",
        "The body is not what its Content-Encoding says",
        f"the Content-Encoding is `{coding}` but the body is not {_FORMS[coding]}: {why}",
    )


class Inflater:
    """Undoes one content coding chunk by chunk; never holds more than `limit` + 1 decoded
    bytes, so a small body that would inflate past the limit is refused (413) on the way."""

    def __init__(self, coding: str, limit: int) -> None:
        self.coding = coding
        self.limit = limit
        self._stream = zlib.decompressobj(_WBITS[coding])
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        """Decode one chunk as sent; 413 past the limit, 400 when it is not the coding."""
        try:
            while data:
                if self._stream.eof:
                    # A gzip body may be several members one after another (RFC 1952 2.2).
                    if self.coding != "gzip":
                        raise _not_coded(self.coding, "data after the end of the stream")
                    self._stream = zlib.decompressobj(_WBITS[self.coding])
                out = self._stream.decompress(data, self.limit - self._size + 1)
                self._size += len(out)
                if self._size > self.limit:
                    raise too_large(self.limit)
                self._parts.append(out)
                data = self._stream.unused_data if self._stream.eof else b""
        except zlib.error as exc:
            raise _not_coded(self.coding, _zlib_reason(exc)) from None

    def body(self) -> bytes:
        """The decoded body; 400 when the coded data stopped before its end."""
        if not self._stream.eof:
            raise _not_coded(self.coding, "the data ends before the end of the stream")
        return b"".join(self._parts)


def _zlib_reason(exc: zlib.error) -> str:
    # "Error -3 while decompressing data: incorrect header check" -> "incorrect header check"
    return str(exc).rpartition(": ")[2][:100] or "unreadable"


async def read_body(request: Request[Any, Any, Any], limit: int) -> bytes:
    """The body, its content coding undone: refused (413) as soon as it is known to pass
    `limit` (the Content-Length, the bytes as sent or the bytes decoded), 415 for a coding
    other than gzip or deflate, 400 for data that is not its coding, and cut off (408) when
    it does not arrive within the body timeout, so a client that stalls holds no handler."""
    coding = coding_of(request.headers.getall("content-encoding", []))
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise too_large(limit)
    inflater = Inflater(coding, limit) if coding else None
    seconds = limits_of(request).body_timeout_seconds
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                if inflater is not None:
                    inflater.feed(chunk)
                else:
                    chunks.append(chunk)
    except RequestEntityTooLarge:
        raise too_large(limit) from None
    except TimeoutError:
        raise problem(
            408,
            "body-timeout",
            "Request body too slow",
            f"the body did not arrive within {seconds:g} s",
            headers={"Connection": "close"},
        ) from None
    except InternalServerException:  # Litestar's word for a client gone before the body ended
        raise problem(
            400, "incomplete-body", "Incomplete body", "the connection closed before the body ended"
        ) from None
    return inflater.body() if inflater is not None else b"".join(chunks)


def _announced(scope: Scope) -> tuple[bool, int | None, bool]:
    """(a body follows, its Content-Length if given, the client waits for 100 Continue)."""
    length: int | None = None
    chunked = expects = False
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"expect" and value.lower() == b"100-continue":
            expects = True
    return chunked or bool(length), length, expects


def read_before_answering(app: ASGIApp, seconds: float = 30.0) -> ASGIApp:
    """ASGI middleware: an answer that starts before the request's body was read (a refusal:
    401, 413, 415, ...) waits until the rest of the body is read and dropped, at most
    `DRAIN_BYTES` of it and for `seconds`. A client that writes its whole body before it
    reads (Python's urllib, which also asks to close the connection) then reads the answer;
    closing a connection with unread data would reset it and lose the answer. A 408 goes out
    at once (that client is too slow to wait for), and so does the answer to a client
    waiting for `100 Continue` before it sends; a connection not drained to the end closes."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        pending, length, expects = _announced(scope)
        if not pending:
            await app(scope, receive, send)
            return
        read = 0
        received = False

        async def receiving() -> ReceiveMessage:
            nonlocal pending, read, received
            message = await receive()
            received = True
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                pending = pending and message.get("more_body", False)
            else:
                pending = False
            return message

        async def sending(message: Message) -> None:
            nonlocal pending
            if message["type"] == "http.response.start" and pending:
                pending = False
                unread = None if length is None else length - read
                at_once = message["status"] == 408 or (expects and not received)
                if at_once or not await _drain(receive, unread, seconds):
                    message = _closing(message)
            await send(message)

        await app(scope, receiving, sending)

    return middleware


def _closing(message: Any) -> Any:
    """The answer's start, asking the server to close the connection after it."""
    headers = list(message.get("headers", []))
    if not any(name.lower() == b"connection" for name, _ in headers):
        headers.append((b"connection", b"close"))
    return {**message, "headers": headers}


async def _drain(receive: Receive, unread: int | None, seconds: float) -> bool:
    """Read and drop the rest of a body; True when it ended within the bounds."""
    if unread is not None and unread > DRAIN_BYTES:
        return False
    dropped = 0
    try:
        async with asyncio.timeout(seconds):
            while dropped <= DRAIN_BYTES:
                message: Any = await receive()
                if message["type"] != "http.request":
                    return False
                dropped += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return True
    except TimeoutError:
        pass
    return False
