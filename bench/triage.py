"""Triage workbench benchmark: the work list at 10,000 waiting reports, and a person's route
disposition to its case in the unit's queue at a fixed rate.

Runs on this machine against the local PostgreSQL and RabbitMQ, in a database and broker
prefix of its own (both removed afterwards), with the intake (its outbox relay inside) and
the router as real processes, people's real access tokens from the local OpenID Connect
test provider (deploy/oidc, started when it does not answer), and prints a Markdown report.

1. The work list: `--waiting` reports (from the routing benchmark's corpus, decided by the
   default rules) are loaded with COPY and put on the work list by SQL, spread over the
   districts as their municipalities place them. `GET /v1/triage` (the first page, most
   urgent first) is asked `--requests` times by an assessor of one district (anne, Oslo),
   another (per, Vest) and a national prosecutor (nina, every district), over
   `--connections` keep-alive connections: latency p50/p99 per person.
2. Route to the unit queue: open loop at `--rate` dispositions/s for `--seconds`: for each
   report a claim (`POST .../claim`) then a route to its district's default unit
   (`POST .../route`) by a person of its district (nina for the districts without a
   development person); latency from the scheduled moment to the case's arrival in the
   unit's queue, seen by a consumer on the unit queues by message id (= the act's id), so
   the intake, the outbox relay, the router and RabbitMQ all count.

Usage: python -m bench.triage [--waiting 10000] [--requests 3000] [--rate 50] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import sys
import time
import uuid
from typing import Any

import aio_pika
import asyncpg

from bench import logins
from bench.intake import machine, percentile, write_clients_file
from bench.routing import NOW, REF, RULES, UNITS, corpus, load_reports, replicas
from services.common import logging as fsi_logging
from services.common import migrate
from services.common.rules.engine import decide
from services.common.rules.ruleset import load_ruleset
from services.common.settings import LogSettings
from services.common.topology import Topology, declare, delete
from services.intake.triage.model import PRIORITY_RANK
from tests.support.people import OIDC_ENV, token_for

ADMIN_URL = os.environ.get(
    "FSI_BENCH_ADMIN_DB_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("FSI_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ROOT = RULES.parents[2]
# Who routes a district's reports: its development person, else the national prosecutor.
ROUTER_OF = {"oslo": "anne", "vest": "per"}
_ITEM = """
INSERT INTO work_items (report_id, district, source, reason, detail, priority, priority_rank,
                        deadline_at, received_at, waiting_since)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""


class Connection:
    """A minimal HTTP/1.1 keep-alive client with a bearer token: cheap on CPU, so the
    intake gets the machine."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, token: str, body: Any = None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        data = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        self.writer.write(head.encode() + data)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return int(status_line.split()[1]), await self.reader.readexactly(length)


async def load_worklist(db_url: str, waiting: int) -> dict[uuid.UUID, str]:
    """`waiting` reports stored and on the work list (waiting for up to two days, decided by
    the default rules); the default unit of the district of each report that has one."""
    ruleset = load_ruleset(RULES, UNITS, REF)
    rows = list(replicas(corpus(500), waiting, "t"))
    await load_reports(db_url, iter(rows), None)
    rng = random.Random(7)  # noqa: S311 - test data, not secrets
    now = dt.datetime.now(dt.UTC)
    items, districts = [], {}
    for report_id, report in rows:
        decision = decide(report, report_id, ruleset, NOW)
        # The decision names the district; the work list keeps its slug, as the router does.
        home = ruleset.catalogue.districts.get(decision.district or "")
        slug = None if home is None else home.slug
        since = now - dt.timedelta(seconds=rng.random() * 2 * 86400)
        reason = (
            "no_district"
            if decision.district is None
            else rng.choice(("rule", "quality_issues", "returned", "transferred"))
        )
        items.append(
            (
                report_id,
                slug,
                report.source,
                reason,
                None,
                decision.priority.value,
                PRIORITY_RANK[decision.priority.value],
                decision.deadline.due_at if decision.deadline else None,
                since,
                since,
            )
        )
        if home is not None:
            districts[report_id] = home.unit(home.default)
    conn = await asyncpg.connect(db_url)
    try:
        await conn.executemany(_ITEM, items)
        await conn.execute("ANALYZE work_items")
    finally:
        await conn.close()
    return districts


async def worklist_latency(
    port: int, token: str, requests: int, connections: int
) -> tuple[list[float], dict[int, int], int]:
    """`requests` first pages over `connections` connections (closed loop): latencies,
    statuses, items on the last page."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    shown = 0
    left = iter(range(requests))

    async def worker() -> None:
        nonlocal shown
        conn = Connection(port)
        for _ in left:
            start = time.perf_counter()
            status, body = await conn.request("GET", "/v1/triage", token)
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                shown = len(json.loads(body)["items"])

    await asyncio.gather(*(worker() for _ in range(connections)))
    return latencies, statuses, shown


async def route_latency(
    port: int,
    topology: Topology,
    targets: list[tuple[uuid.UUID, str, str]],
    tokens: dict[str, str],
    rate: float,
) -> dict[str, Any]:
    """Claim and route each (report, unit, person) on a fixed schedule; latency from the
    scheduled moment to the case in the unit's queue, and of the two requests alone."""
    arrived: dict[str, float] = {}
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=1000)

        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            if message.message_id is not None:
                arrived.setdefault(message.message_id, time.perf_counter())

        for unit in sorted({unit for _, unit, _ in targets}):
            queue = await channel.get_queue(topology.unit_queue(unit).name)
            await queue.consume(on_message, no_ack=True)
        idle: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(32):
            idle.put_nowait(Connection(port))
        sent: dict[str, float] = {}
        http: list[float] = []
        statuses: dict[str, int] = {}

        async def one(report_id: uuid.UUID, unit: str, person: str, scheduled: float) -> None:
            conn = await idle.get()
            try:
                token = tokens[person]
                status, body = await conn.request("POST", f"/v1/triage/{report_id}/claim", token)
                statuses[f"claim {status}"] = statuses.get(f"claim {status}", 0) + 1
                if status != 200:
                    return
                claim = json.loads(body)["token"]
                status, body = await conn.request(
                    "POST",
                    f"/v1/triage/{report_id}/route",
                    token,
                    {"claim": claim, "unit": unit},
                )
                statuses[f"route {status}"] = statuses.get(f"route {status}", 0) + 1
                http.append(time.perf_counter() - scheduled)
                if status == 200:
                    sent[json.loads(body)["act_id"]] = scheduled
            finally:
                idle.put_nowait(conn)

        start = time.perf_counter()
        tasks = []
        for n, (report_id, unit, person) in enumerate(targets):
            scheduled = start + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(report_id, unit, person, scheduled)))
        await asyncio.gather(*tasks)
        deadline = time.perf_counter() + 30
        # Polled: the consumer's callback stays a plain recording of the arrival time.
        while time.perf_counter() < deadline and not set(sent) <= set(arrived):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    latencies = [arrived[act] - at for act, at in sent.items() if act in arrived]
    return {
        "latencies": latencies,
        "http": http,
        "statuses": statuses,
        "sent": len(sent),
        "missing": len(set(sent) - set(arrived)),
        "rate": len(targets) / (time.perf_counter() - start),
    }


async def wait_ready(port: int, intake: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        if intake.returncode is not None:
            raise SystemExit("the intake exited during start-up")
        try:
            status, _ = await Connection(port).request("GET", "/readyz", "-")
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the intake did not become ready")


async def wait_consumed(topology: Topology, router: asyncio.subprocess.Process) -> None:
    """Until the router consumes the people's decisions queue."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for _ in range(300):
            if router.returncode is not None:
                raise SystemExit("the router exited during start-up")
            queue = await channel.declare_queue(topology.decisions_queue.name, passive=True)
            if queue.declaration_result.consumer_count:
                return
            await asyncio.sleep(0.1)
    raise SystemExit("the router did not consume its decisions queue")


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.1f}"


async def bench(args: argparse.Namespace) -> str:
    """Run every measurement; the Markdown report."""
    ruleset = load_ruleset(RULES, UNITS, REF)
    units = ruleset.catalogue.units
    run = uuid.uuid4().hex[:8]
    db_name, prefix = f"fsi_bench_{run}", f"bench.{run}."
    db_url = ADMIN_URL.rsplit("/", 1)[0] + f"/{db_name}"
    topology = Topology(prefix=prefix, units=units)
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    await admin.close()
    processes: list[asyncio.subprocess.Process] = []
    clients = write_clients_file()
    try:
        await migrate.migrate(db_url)
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            await declare(await connection.channel(), topology)
        loading = time.perf_counter()
        districts = await load_worklist(db_url, args.waiting)
        loaded = time.perf_counter() - loading
        people = ("anne", "per", "nina")
        tokens = {person: await token_for(person) for person in people}
        base = {**os.environ, **OIDC_ENV, "FSI_BROKER_URL": AMQP_URL, "FSI_BROKER_PREFIX": prefix}
        base["FSI_LOG_LEVEL"] = "WARNING"
        intake_env = {
            **base,
            "FSI_DB_URL": await logins.service_url(db_url, "fsi_intake"),
            "FSI_DB_POOL_MIN": "8",
            "FSI_DB_POOL_MAX": "8",
            "FSI_HTTP_PORT": str(args.port),
            # Machines' keys are not used here; the intake needs its clients file.
            "FSI_ACCESS_CLIENTS_FILE": str(clients),
        }
        router_env = {
            **base,
            "FSI_DB_URL": await logins.service_url(db_url, "fsi_router"),
            "FSI_METRICS_ENABLED": "false",
        }
        for module, env in (
            ("services.routing.main", router_env),
            ("services.intake.main", intake_env),
        ):
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-m", module, env=env, cwd=ROOT
                )
            )
        router, intake = processes
        await wait_ready(args.port, intake)
        await wait_consumed(topology, router)

        await worklist_latency(args.port, tokens["nina"], 200, args.connections)  # warm-up
        lists = {}
        for person in people:
            lists[person] = await worklist_latency(
                args.port, tokens[person], args.requests, args.connections
            )

        rng = random.Random(11)  # noqa: S311 - test data, not secrets
        placed = list(districts.items())
        rng.shuffle(placed)
        count = int(args.rate * args.seconds)
        targets = [
            (report_id, unit, ROUTER_OF.get(unit.partition(".")[0], "nina"))
            for report_id, unit in placed[:count]
        ]
        assert all(unit in units for _, unit, _ in targets), "a default unit not in the catalogue"
        # Warm-up of the whole path, then the measured run.
        await route_latency(args.port, topology, targets[:50], tokens, args.rate)
        routed = await route_latency(args.port, topology, targets[50:], tokens, args.rate)
    finally:
        clients.unlink(missing_ok=True)
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await asyncio.wait_for(process.wait(), 30)
        admin = await asyncpg.connect(ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            await delete(await connection.channel(), topology)

    by_district: dict[str, int] = {}
    for unit in districts.values():
        slug = unit.partition(".")[0]
        by_district[slug] = by_district.get(slug, 0) + 1
    lines = [
        f"Machine: {machine()}",
        f"Work list: {args.waiting:,} waiting reports, {len(districts):,} of them in "
        f"{len(by_district)} districts (Oslo {by_district.get('oslo', 0):,}, Vest "
        f"{by_district.get('vest', 0):,}) and {args.waiting - len(districts):,} with no "
        f"district; loaded in {loaded:.1f} s.",
        "",
        "| measurement | requests | p50 ms | p99 ms | statuses |",
        "|---|---:|---:|---:|---|",
    ]
    for person, what in (
        ("anne", "assessor, Oslo"),
        ("per", "assessor, Vest"),
        ("nina", "prosecutor, national"),
    ):
        latencies, statuses, shown = lists[person]
        lines.append(
            f"| GET /v1/triage, first page ({shown} items), {person} ({what}), "
            f"{args.connections} connections | {len(latencies):,} | {ms(latencies, 0.5)} | "
            f"{ms(latencies, 0.99)} | {statuses} |"
        )
    lines += [
        f"| claim + route, open loop at {args.rate:g}/s: the two requests | "
        f"{len(routed['http']):,} | {ms(routed['http'], 0.5)} | {ms(routed['http'], 0.99)} | "
        f"{routed['statuses']} |",
        f"| claim + route, open loop at {args.rate:g}/s: to the case in the unit's queue | "
        f"{len(routed['latencies']):,} | {ms(routed['latencies'], 0.5)} | "
        f"{ms(routed['latencies'], 0.99)} | {routed['missing']} never arrived |",
        "",
        f"Targets: work list p99 < 50 ms at 10,000 waiting; route to queue p99 < 200 ms at "
        f"50/s. Dispositions offered at {routed['rate']:.1f}/s.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=3000, help="work list requests per person")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--port", type=int, default=18_766)
    fsi_logging.configure(LogSettings(level="WARNING"), stream=sys.stderr)
    print(asyncio.run(bench(parser.parse_args())))


if __name__ == "__main__":
    main()
