"""The whole system as real processes, for fault tests: an intake and routers, each reaching
PostgreSQL and RabbitMQ through proxies of the tests' own, a steady stream of reports, and
the checks that nothing accepted was lost or routed twice."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import httpx
import msgspec

from schemas.envelope import CaseRouted
from services.common.topology import Topology
from tests.conftest import SERVICE_LOGINS, as_login
from tests.support.processes import ServiceProcess
from tests.support.proxy import TcpProxy

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "schemas" / "examples"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def via(url: str, proxy: TcpProxy) -> str:
    """The same URL, through the proxy."""
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    netloc = (auth + "@" if auth else "") + f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class Outcome:
    """What a run showed, by report id."""

    accepted: set[str]
    stored: set[str]  # every report in the database: accepted, or committed unanswered
    decided: int
    distinct_decisions: int
    copies: collections.Counter[str]
    dead_letters: int
    unknown: set[str]
    differing: set[str]

    @property
    def lost(self) -> set[str]:
        """Stored reports (every accepted one among them) in no unit or triage queue."""
        return self.stored - set(self.copies)

    @property
    def duplicated(self) -> int:
        """Reports decided more than once, or routed with two different decisions."""
        return (self.decided - self.distinct_decisions) + len(self.differing)

    @property
    def republished(self) -> int:
        """Extra identical copies (same message id, same decision): at-least-once on the
        wire, dropped by a unit's consumer by message id."""
        return sum(n - 1 for n in self.copies.values())


@dataclass
class System:
    """An intake process and router processes under one broker prefix and one database."""

    tmp: Path
    database_url: str
    amqp_url: str
    topology: Topology
    clients_file: Path
    key: str
    intake_port: int = field(default_factory=free_port)
    proxies: dict[str, TcpProxy] = field(default_factory=dict)
    intake: ServiceProcess | None = None
    routers: list[ServiceProcess] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)
    answers: collections.Counter[str] = field(default_factory=collections.Counter)

    async def start(self, routers: int = 2) -> None:
        for name, url in (("intake-db", self.database_url), ("intake-mq", self.amqp_url)):
            await self._proxy(name, url)
        for index in range(routers):
            await self._proxy(f"router{index}-db", self.database_url)
            await self._proxy(f"router{index}-mq", self.amqp_url)
        for index in range(routers):
            self.routers.append(self._router(index))
            self.routers[-1].start()
        self.intake = self._intake()
        self.intake.start()
        await self.until_ready()

    async def _proxy(self, name: str, url: str) -> None:
        parts = urlsplit(url)
        proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 0)
        await proxy.start()
        self.proxies[name] = proxy

    def _common(self, db: str, mq: str, login: str) -> dict[str, str]:
        # Each service as its own login (tests/conftest.py SERVICE_LOGINS), as outside
        # development it must be.
        return {
            "FSI_DB_URL": via(as_login(self.database_url, login), self.proxies[db]),
            "FSI_DB_MIGRATE_ON_START": "false",
            "FSI_DB_POOL_MIN": "1",
            "FSI_DB_POOL_MAX": "4",
            "FSI_BROKER_URL": via(self.amqp_url, self.proxies[mq]),
            "FSI_BROKER_PREFIX": self.topology.prefix,
        }

    def _intake(self) -> ServiceProcess:
        env = {
            **self._common("intake-db", "intake-mq", SERVICE_LOGINS["intake"][0]),
            "FSI_ACCESS_CLIENTS_FILE": str(self.clients_file),
            "FSI_ACCESS_RATE_PER_SECOND": "100000",
            "FSI_ACCESS_RATE_BURST": "100000",
            "FSI_HTTP_PORT": str(self.intake_port),
            "FSI_RELAY_POLL_SECONDS": "0.5",
            "FSI_RELAY_RECONNECT_SECONDS": "0.5",
            "FSI_STANDARDISE_ACCEPT_SYNTHETIC_IDS": "true",
        }
        return ServiceProcess("services.intake.main", env, self.tmp / "intake.log")

    def _router(self, index: int) -> ServiceProcess:
        env = {
            **self._common(f"router{index}-db", f"router{index}-mq", SERVICE_LOGINS["router"][0]),
            "FSI_METRICS_ENABLED": "false",
            "FSI_CONSUMER_PREFETCH": "16",
        }
        return ServiceProcess("services.routing.main", env, self.tmp / f"router{index}.log")

    async def until_ready(self, within: float = 30) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    answer = await client.get(f"http://127.0.0.1:{self.intake_port}/healthz")
                    if answer.status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError("the intake did not start: " + self.output())

    def restart_intake(self) -> None:
        assert self.intake is not None
        self.intake.kill()
        self.intake = self._intake()
        self.intake.start()

    def restart_router(self, index: int) -> None:
        self.routers[index].kill()
        self.routers[index] = self._router(index)
        self.routers[index].start()

    async def stop(self) -> None:
        for process in (self.intake, *self.routers):
            if process is not None:
                process.stop()
        for proxy in self.proxies.values():
            await proxy.stop()

    def errors(self) -> list[str]:
        """The services' error lines, whole (the output above keeps only each tail)."""
        processes = [p for p in (self.intake, *self.routers) if p is not None]
        return [x for p in processes for x in p.output.splitlines() if '"level": "error"' in x]

    def output(self) -> str:
        parts = [p.output[-3000:] for p in (self.intake, *self.routers) if p is not None]
        return "\n---\n".join(parts)

    # --- load ----------------------------------------------------------------------------

    async def post_steadily(self, stop: asyncio.Event, per_second: float = 40) -> None:
        """Post reports at a steady rate until `stop`; remember each one answered 202/200."""
        template = json.loads((EXAMPLES / "report.bicycle-theft.json").read_text("utf-8"))
        headers = {"Authorization": f"Bearer {self.key}"}
        url = f"http://127.0.0.1:{self.intake_port}/v1/reports"
        pending: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=10) as client:
            while not stop.is_set():
                body = dict(template, source="alpha-src", external_id=uuid.uuid4().hex)
                task = asyncio.create_task(self._post(client, url, body, headers))
                pending.add(task)
                task.add_done_callback(pending.discard)
                await asyncio.sleep(1 / per_second)
            await asyncio.gather(*pending)

    async def _post(
        self, client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> None:
        try:
            answer = await client.post(url, json=body, headers=headers)
        except httpx.TransportError as exc:
            self.answers[type(exc).__name__] += 1
            return
        self.answers[str(answer.status_code)] += 1
        if answer.status_code in {200, 202}:
            self.accepted.add(answer.json()["report_id"])

    # --- checks --------------------------------------------------------------------------

    async def until_settled(self, within: float = 90) -> None:
        """Every stored report decided, nothing left to publish, the routing queue empty.

        Stored, not only accepted: a report committed but never answered (the intake died
        before its response) is routed too, and may still be on its way."""
        accepted = [uuid.UUID(i) for i in self.accepted]
        conn = await asyncpg.connect(self.database_url)
        try:
            deadline = time.monotonic() + within
            while time.monotonic() < deadline:
                decided = await conn.fetchval(
                    "SELECT count(*) FROM decisions WHERE report_id = ANY($1)", accepted
                )
                undecided = await conn.fetchval(
                    "SELECT count(*) FROM reports r WHERE NOT EXISTS "
                    "(SELECT 1 FROM decisions d WHERE d.report_id = r.id)"
                )
                pending = await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL"
                )
                settled = decided == len(accepted) and not undecided and not pending
                if settled and await self._routing_queue_empty():
                    return
                await asyncio.sleep(0.25)
        finally:
            await conn.close()
        raise AssertionError(
            f"not settled: {decided} decided of {len(accepted)} accepted, "
            f"{pending} unpublished\n{self.output()}"
        )

    async def _routing_queue_empty(self) -> bool:
        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.topology.routing_queue.name, passive=True)
            result = queue.declaration_result
            return result.message_count == 0

    async def outcome(self) -> Outcome:
        """Drain every unit, triage and dead-letter queue and compare with the audit table."""
        copies: collections.Counter[str] = collections.Counter()
        bodies: dict[str, bytes] = {}
        differing: set[str] = set()
        dead = 0
        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            channel = await connection.channel()
            units = [self.topology.unit_queue(u) for u in self.topology.units]
            for queue in (*units, self.topology.triage_queue):
                declared = await channel.get_queue(queue.name)
                while (message := await declared.get(fail=False, no_ack=True)) is not None:
                    report_id = str(message.message_id)
                    copies[report_id] += 1
                    decision = msgspec.json.decode(message.body, type=CaseRouted).decision
                    first = bodies.setdefault(report_id, msgspec.json.encode(decision))
                    if first != msgspec.json.encode(decision):
                        differing.add(report_id)
            dead_queue = await channel.get_queue(self.topology.dead_letter_queue.name)
            while await dead_queue.get(fail=False, no_ack=True) is not None:
                dead += 1
        conn = await asyncpg.connect(self.database_url)
        try:
            stored = {str(r["id"]) for r in await conn.fetch("SELECT id FROM reports")}
            decided = await conn.fetchval("SELECT count(*) FROM decisions")
            distinct = await conn.fetchval("SELECT count(DISTINCT report_id) FROM decisions")
        finally:
            await conn.close()
        return Outcome(
            accepted=set(self.accepted),
            stored=stored,
            decided=decided,
            distinct_decisions=distinct,
            copies=copies,
            dead_letters=dead,
            unknown=set(copies) - stored,
            differing=differing,
        )
