"""The intake app in process over in-memory parts, for its HTTP tests: the clients, the app
with the default and with small limits, an ASGI exchange whose body arrives as a test says
(in parts, then ended, stalled or cut off), and what a problem answer holds."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import httpx
from litestar import Litestar
from litestar.testing import TestClient
from litestar.types import Message, ReceiveMessage

from services.common.sessions import SessionRecord
from services.intake.app import Parts, create_app
from services.intake.settings import AccessSettings, HttpSettings, IntakeSettings
from tests.support.clients import CLIENTS_YAML
from tests.unit.intake.fakes import MemoryReportStore

EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples"
PROBLEMS = "https://fsi-intake.politiet.example/problems/"
JSON = {"Content-Type": "application/json"}
DEFAULTS = HttpSettings()
# Small limits, so a test of them sends little; a body timeout a test can wait out.
SMALL = HttpSettings(
    max_body_bytes=16_384, max_batch_body_bytes=65_536, max_batch_items=4, body_timeout_seconds=0.2
)
REPEATED = "Object key given more than once (RFC 7493 section 2.3): send each key once"
IDENTITY = "24869023120"  # shaped as a national id: sent as a key, it must not come back

Client = TestClient[Litestar]

# Header fields: names and values, or pairs where a name may come more than once.
Fields = dict[str, str] | list[tuple[str, str]]


class MemorySessionStore:
    """`services.common.sessions.SessionStore` in a dict keyed by the token's hash."""

    def __init__(self) -> None:
        self.rows: dict[bytes, SessionRecord] = {}

    async def create(self, record: SessionRecord) -> None:
        self.rows[record.token_sha256] = record

    async def find(self, token_sha256: bytes) -> SessionRecord | None:
        return self.rows.get(token_sha256)

    async def touch(self, token_sha256: bytes, at: dt.datetime) -> None:
        self.rows[token_sha256] = dataclasses.replace(self.rows[token_sha256], last_seen_at=at)

    async def end(self, token_sha256: bytes, at: dt.datetime, reason: str) -> None:
        row = self.rows.get(token_sha256)
        if row is not None and row.ended_at is None:
            self.rows[token_sha256] = dataclasses.replace(row, ended_at=at, end_reason=reason)

    async def purge(self, created_before: dt.datetime) -> None:
        self.rows = {k: r for k, r in self.rows.items() if r.created_at >= created_before}


@asynccontextmanager
async def memory_parts(_: IntakeSettings) -> AsyncIterator[Parts]:
    """Parts with no I/O, new at every start: reports and sessions in memory, no broker
    link, no monitor."""
    yield Parts(store=MemoryReportStore(), sessions=MemorySessionStore())


def memory_app(clients_file: Path, http: HttpSettings | None = None) -> Litestar:
    """The real intake app (routes, guards, middleware, handlers, limits) over `memory_parts`,
    with the clients above in `clients_file` (written here) and `http`'s limits. Each start
    (a test client entered) begins with no reports and full rate buckets."""
    clients_file.write_text(CLIENTS_YAML, "utf-8")
    settings = IntakeSettings(
        http=http or HttpSettings(),
        # As the integration suite runs it: a rate no test reaches but the slow client's own.
        access=AccessSettings(
            clients_file=str(clients_file), rate_per_second=1000, rate_burst=1000
        ),
        environment="development",
    )
    return create_app(settings, configure_logging=False, parts=memory_parts)


@dataclasses.dataclass(frozen=True)
class Answer:
    """What the app sent: the status, the header fields (names in lower case), the body."""

    status_code: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def exchange(
    app: Litestar,
    path: str,
    headers: Fields,
    parts: list[bytes],
    then: Literal["end", "stall", "hang up"] = "end",
    pause: float = 0.0,
) -> Answer:
    """POST `path` to the ASGI app directly, with the header fields as given (a name given
    twice is sent twice) and the body sent as `parts`, `pause` seconds before each; after the
    last the body ends, stops arriving (the client sends nothing more) or the client hangs
    up. The app must have started, its lifespan run in this event loop."""
    fields = list(headers.items()) if isinstance(headers, dict) else headers
    sent = list(parts) if parts or then != "end" else [b""]
    stalled = asyncio.Event()  # never set: a client that sends nothing more

    async def receive() -> ReceiveMessage:
        if sent:
            await asyncio.sleep(pause)
            more = bool(sent[1:]) or then != "end"
            return {"type": "http.request", "body": sent.pop(0), "more_body": more}
        if then == "stall":
            await stalled.wait()
        return {"type": "http.disconnect"}

    start: dict[str, Any] = {}
    body = bytearray()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    scope: Any = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in fields],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    async with asyncio.timeout(10):  # a hung exchange fails the test, not the run
        await app(scope, receive, send)
    answered = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
    return Answer(status_code=start["status"], headers=answered, body=bytes(body))


def apps_in(folder: Path) -> dict[HttpSettings, Litestar]:
    """The app with the `DEFAULTS` limits (FSI_HTTP_* unset) and with `SMALL` ones, their
    clients file in `folder`. Building one costs tens of milliseconds (mostly its OpenAPI
    document): a test module builds them once and starts them for each test."""
    return {http: memory_app(folder / "clients.yaml", http) for http in (DEFAULTS, SMALL)}


def raw(client: Client, path: str, headers: Fields, parts: list[bytes], **how: Any) -> Answer:
    """`exchange` with a started test client's app, in the client's event loop."""
    call = functools.partial(exchange, client.app, path, headers, parts, **how)
    answer: Answer = client.blocking_portal.call(call)
    return answer


def report(source: str = "alpha-src", external_id: str = "one", **changes: Any) -> dict[str, Any]:
    """The domestic violence example, for `source` with `external_id` and `changes`."""
    body: dict[str, Any] = json.loads(
        (EXAMPLES / "report.domestic-violence.json").read_text("utf-8")
    )
    body.update(source=source, external_id=external_id, **changes)
    return body


def encoded(value: Any) -> bytes:
    """`value` as a JSON body."""
    return json.dumps(value, ensure_ascii=False).encode()


def problem(response: httpx.Response | Answer, status: int, slug: str) -> dict[str, Any]:
    """The RFC 9457 problem of a refusal, checked for its status, media type and type."""
    body: dict[str, Any] = response.json()
    assert response.status_code == status, body
    assert response.headers["content-type"] == "application/problem+json"
    assert (body["status"], body["type"]) == (status, PROBLEMS + slug), body
    return body
