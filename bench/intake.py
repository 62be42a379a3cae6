"""Intake benchmark: HTTP single posts and batches beside the raw cost of the same work.

Runs everything on this machine against the local PostgreSQL and RabbitMQ, in a database
and broker prefix of its own (removed afterwards), and prints a Markdown report:

- raw: the two inserts per transaction (report + outbox row) straight through asyncpg, and
  confirmed publishes straight through aio-pika;
- HTTP: single posts at full speed (closed loop) and at fixed arrival rates (open loop,
  latency measured from the scheduled send time, so queueing counts), and 1,000-report
  batches.

Usage: python -m bench.intake [--seconds 10] [--workers 1] [--rates 100,300,600]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg

from bench import logins
from services.common import db, migrate
from services.common.settings import DatabaseSettings
from services.common.topology import Topology, declare, delete
from services.intake import records, store
from services.intake.access import hash_key

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = json.loads((ROOT / "schemas/examples/report.domestic-violence.json").read_text("utf-8"))
KEY = "bench-key-" + uuid.uuid4().hex
ADMIN_URL = os.environ.get(
    "FSI_BENCH_ADMIN_DB_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AMQP_URL = os.environ.get("FSI_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def report_body(n: int) -> bytes:
    body = dict(EXAMPLE, source="bench", external_id=f"bench-{uuid.uuid4().hex}-{n}")
    return json.dumps(body).encode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# --- a minimal HTTP/1.1 keep-alive client: cheap on CPU, so the server gets the machine ------


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            await self.connect()
        assert self.reader is not None
        assert self.writer is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await self.reader.readexactly(length)
        return int(status_line.split()[1])


# --- raw baselines ----------------------------------------------------------------------------


async def raw_inserts(db_url: str, total: int, concurrency: int) -> float:
    # The same pool set-up as the service's, so only HTTP and the service code differ.
    pool = await db.create_pool(
        DatabaseSettings(db_url, pool_min=concurrency, pool_max=concurrency, migrate_on_start=False)
    )
    reports = store.PgReportStore(pool)
    payload = report_body(0)
    counter = iter(range(total))

    async def worker() -> None:
        for _ in counter:
            rid = uuid.uuid4()
            item = records.NewReport(
                id=rid,
                client_id="bench",
                source="raw",
                external_id=f"raw-{rid}",
                source_format="canonical",
                content_hash=rid.bytes * 2,
                raw_body=payload,
                raw_content_type="application/json",
                report_json=payload.decode(),
                quality_issues_json="[]",
                message_type="t",
                routing_key="k",
                payload=payload,
            )
            await reports.insert_reports([item])

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    # These rows only measured the inserts; the relay must not try to publish them.
    await pool.execute("DELETE FROM outbox")
    await pool.execute("DELETE FROM reports")
    await pool.close()
    return total / elapsed


async def raw_publishes(prefix: str, total: int, in_flight: int) -> float:
    topology = Topology(prefix=prefix)
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await declare(channel, topology)
        exchange = await channel.get_exchange(topology.reports_exchange.name)
        body = report_body(0)
        semaphore = asyncio.Semaphore(in_flight)

        async def one(n: int) -> None:
            async with semaphore:
                await exchange.publish(
                    aio_pika.Message(
                        body, message_id=str(n), delivery_mode=aio_pika.DeliveryMode.PERSISTENT
                    ),
                    routing_key="report.accepted",
                )

        start = time.perf_counter()
        await asyncio.gather(*(one(n) for n in range(total)))
        elapsed = time.perf_counter() - start
        await (await channel.get_queue(topology.routing_queue.name)).purge()
    return total / elapsed


# --- HTTP ---------------------------------------------------------------------------------------


async def closed_loop(port: int, seconds: float, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        conn = Connection("127.0.0.1", port)
        while time.perf_counter() < stop:
            body = report_body(next(counter))
            t0 = time.perf_counter()
            status = await conn.post("/v1/reports", body)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {"rate": statuses.get(202, 0) / elapsed, "latencies": latencies, "statuses": statuses}


async def open_loop(port: int, rate: float, seconds: float) -> dict[str, Any]:
    """Requests sent on a fixed schedule; latency counts from the scheduled moment."""
    total = int(rate * seconds)
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(64):
        # Connected before the clock starts: upstream systems keep their connections.
        connection = Connection("127.0.0.1", port)
        await connection.connect()
        idle.put_nowait(connection)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    bodies = [report_body(n) for n in range(total)]

    async def send(n: int, scheduled: float) -> None:
        conn = await idle.get()
        try:
            status = await conn.post("/v1/reports", bodies[n])
        finally:
            idle.put_nowait(conn)
        latencies.append(time.perf_counter() - scheduled)
        statuses[status] = statuses.get(status, 0) + 1

    start = time.perf_counter()
    tasks = []
    for n in range(total):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(n, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    return {"rate": statuses.get(202, 0) / elapsed, "latencies": latencies, "statuses": statuses}


async def batches(port: int, count: int, size: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    accepted = 0
    counter = iter(range(count))

    async def worker() -> None:
        nonlocal accepted
        conn = Connection("127.0.0.1", port)
        for b in counter:
            items = b",".join(report_body(b * size + i) for i in range(size))
            t0 = time.perf_counter()
            status = await conn.post("/v1/reports/batch", b'{"reports":[' + items + b"]}")
            latencies.append(time.perf_counter() - t0)
            if status == 200:
                accepted += size

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {"rate": accepted / elapsed, "latencies": latencies}


# --- orchestration ----------------------------------------------------------------------------


async def drained(db_url: str, limit: float = 120) -> float:
    """Seconds until the relay has published every outbox row (phases do not overlap)."""
    conn = await asyncpg.connect(db_url)
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < limit:
            if not await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
                break
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return time.perf_counter() - start


async def wait_ready(port: int, process: asyncio.subprocess.Process) -> None:
    for _ in range(100):
        if process.returncode is not None:
            raise SystemExit("the intake exited during start-up")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
            line = await reader.readline()
            writer.close()
            if b" 200 " in line:
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the intake did not become ready")


def write_clients_file() -> Path:
    with tempfile.NamedTemporaryFile(
        "w", suffix=".yaml", prefix="fsi-bench-clients-", delete=False, encoding="utf-8"
    ) as handle:
        handle.write(
            f"clients:\n  - id: bench\n    key_sha256: {hash_key(KEY)}\n"
            "    sources: ['*']\n    formats: ['*']\n"
        )
    return Path(handle.name)


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )


def row(name: str, result: dict[str, Any]) -> str:
    lat = result.get("latencies") or []
    p50 = percentile(lat, 0.50) * 1000
    p99 = percentile(lat, 0.99) * 1000
    return f"| {name} | {result['rate']:,.0f} | {p50:.1f} | {p99:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rates", default="100,300,600")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--port", type=int, default=18_765)
    args = parser.parse_args()
    clients = write_clients_file()
    try:
        print(asyncio.run(bench(args, clients)))
    finally:
        clients.unlink(missing_ok=True)


async def bench(args: argparse.Namespace, clients: Path) -> str:
    """Run every measurement; the Markdown report."""
    run = uuid.uuid4().hex[:8]
    db_name, prefix = f"fsi_bench_{run}", f"bench.{run}."
    db_url = ADMIN_URL.rsplit("/", 1)[0] + f"/{db_name}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    await admin.close()
    await migrate.migrate(db_url)
    env = {
        **os.environ,
        # As production runs it: a login of its own, a member of fsi_intake.
        "FSI_DB_URL": await logins.service_url(db_url, "fsi_intake"),
        "FSI_DB_POOL_MIN": "16",
        "FSI_DB_POOL_MAX": "16",
        "FSI_BROKER_URL": AMQP_URL,
        "FSI_BROKER_PREFIX": prefix,
        "FSI_HTTP_PORT": str(args.port),
        "FSI_HTTP_WORKERS": str(args.workers),
        "FSI_ACCESS_CLIENTS_FILE": str(clients),
        "FSI_ACCESS_RATE_PER_SECOND": "1000000",
        "FSI_ACCESS_RATE_BURST": "1000000",
        "FSI_LOG_LEVEL": "WARNING",
        "FSI_STANDARDISE_ACCEPT_SYNTHETIC_IDS": "true",
    }
    lines = [f"Machine: {machine()}", f"Date: {dt.date.today()}", ""]
    try:
        raw_tx = await raw_inserts(db_url, 5000, args.concurrency)
        raw_pub = await raw_publishes(prefix, 5000, 200)
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.intake.main", env=env, cwd=ROOT
        )
        try:
            await wait_ready(args.port, server)
            await closed_loop(args.port, 2, args.concurrency)  # warm-up
            await drained(db_url)
            full = await closed_loop(args.port, args.seconds, args.concurrency)
            backlog = await drained(db_url)
            fixed = {}
            for rate in args.rates.split(","):
                fixed[rate] = await open_loop(args.port, float(rate), args.seconds)
                await drained(db_url)
            batch = await batches(args.port, args.batches, 1000, 2)
            batch_backlog = await drained(db_url)
            # Raw again at the end: the disk's commit latency drifts, so both ends are kept.
            raw_tx_after = await raw_inserts(db_url, 5000, args.concurrency)
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), 30)
        lines += [
            "| measurement | reports/s | p50 ms | p99 ms |",
            "|---|---:|---:|---:|",
            f"| raw: report + outbox insert (asyncpg, {args.concurrency} concurrent), "
            f"before / after the HTTP runs | {raw_tx:,.0f} / {raw_tx_after:,.0f} | | |",
            f"| raw: confirmed persistent publish (aio-pika, 200 in flight) | {raw_pub:,.0f} | | |",
            row(f"HTTP single posts, closed loop, {args.concurrency} connections", full),
            *(row(f"HTTP single posts, open loop at {r}/s", res) for r, res in fixed.items()),
            row("HTTP batches of 1,000, 2 concurrent (latency per batch)", batch),
            "",
            f"Single posts reach {full['rate'] / ((raw_tx + raw_tx_after) / 2):.0%} of the raw "
            "insert-transaction rate (the mean of before and after) "
            f"(target: 50%); batches {batch['rate']:,.0f} reports/s (target: 5,000); "
            f"p99 at 300/s: {percentile(fixed.get('300', full)['latencies'], 0.99) * 1000:.1f} ms "
            "(target: 25 ms).",
            f"The relay published the closed loop's backlog {backlog:.1f} s after the loop ended, "
            f"the batches' {batch_backlog:.1f} s after; each phase starts with an empty outbox.",
            f"Statuses: closed loop {full['statuses']}, "
            + ", ".join(f"{r}/s {res['statuses']}" for r, res in fixed.items()),
        ]
    finally:
        admin = await asyncpg.connect(ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()
        connection = await aio_pika.connect(AMQP_URL)
        async with connection:
            await delete(await connection.channel(), Topology(prefix=prefix))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
