"""Faults under a steady stream of reports: every report answered 202/200 is routed or
triaged exactly once, none is lost, and the services recover by themselves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aio_pika
import asyncpg

from services.common.topology import REPORT_ACCEPTED_KEY
from tests import harness
from tests.support.system import ROOT, Outcome, System

Fault = Callable[[System], Awaitable[None]]
SUMMARY = ROOT / "artifacts" / "faults.jsonl"


async def under_load(system: System, name: str, fault: Fault, after: float = 2.0) -> Outcome:
    """Post steadily, inject the fault a second in, keep posting a while after it, then wait
    until everything accepted is routed and drain the queues."""
    stop = asyncio.Event()
    load = asyncio.create_task(system.post_steadily(stop))
    await asyncio.sleep(1.5)
    await fault(system)
    await asyncio.sleep(after)
    stop.set()
    await load
    await system.until_settled()
    outcome = await system.outcome()
    SUMMARY.parent.mkdir(exist_ok=True)
    with SUMMARY.open("a", encoding="utf-8") as out:
        record = {
            "fault": name,
            "answers": dict(system.answers),
            "accepted": len(outcome.accepted),
            "stored_unanswered": len(outcome.stored - outcome.accepted),
            "lost": len(outcome.lost),
            "duplicated": outcome.duplicated,
            "republished_copies": outcome.republished,
            "dead_letters": outcome.dead_letters,
        }
        out.write(json.dumps(record) + "\n")
    return outcome


def check(outcome: Outcome, system: System) -> None:
    assert len(outcome.accepted) >= 40, system.answers
    assert not any(code.startswith("5") and code != "503" for code in system.answers), (
        system.answers,
        system.errors() or system.output(),
    )
    assert outcome.lost == set(), system.output()
    assert outcome.unknown == set()
    assert outcome.accepted <= outcome.stored
    # Every stored report decided once; those committed but never answered (the intake died
    # before its response; the sender sends again and is answered 200) are routed as well.
    assert outcome.decided == len(outcome.stored)
    assert outcome.duplicated == 0
    assert outcome.dead_letters == 0


async def test_broker_connections_cut_and_restored(system: System) -> None:
    async def cut(s: System) -> None:
        links = [p for name, p in s.proxies.items() if name.endswith("-mq")]
        for proxy in links:
            await proxy.cut()
        await asyncio.sleep(2)
        for proxy in links:
            await proxy.restore()

    check(await under_load(system, "broker connections cut for 2 s", cut), system)


async def test_database_connections_cut_and_restored(system: System) -> None:
    async def cut(s: System) -> None:
        links = [p for name, p in s.proxies.items() if name.endswith("-db")]
        for proxy in links:
            await proxy.cut()
        await asyncio.sleep(2)
        for proxy in links:
            await proxy.restore()

    outcome = await under_load(system, "database connections cut for 2 s", cut)
    check(outcome, system)
    assert system.answers["503"] > 0  # the outage was real: the intake said "send again"


async def test_router_killed_mid_batch(system: System) -> None:
    async def kill(s: System) -> None:
        s.restart_router(0)  # SIGKILL with deliveries in hand, then a fresh process

    check(await under_load(system, "router SIGKILL mid-batch", kill), system)


async def test_intake_killed_between_commit_and_publish(system: System) -> None:
    conn = await asyncpg.connect(system.database_url)

    async def kill(s: System) -> None:
        # Reports are committed but cannot be published, then the intake dies.
        await s.proxies["intake-mq"].cut()
        await asyncio.sleep(1.5)
        stranded = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        assert stranded > 0
        assert s.intake is not None
        s.intake.kill()
        await s.proxies["intake-mq"].restore()
        s.restart_intake()
        await s.until_ready()

    try:
        check(await under_load(system, "intake SIGKILL between commit and publish", kill), system)
    finally:
        await conn.close()


async def test_every_message_delivered_twice(system: System) -> None:
    async def twice(s: System) -> None:
        await asyncio.sleep(1)
        conn = await asyncpg.connect(s.database_url)
        rows = await conn.fetch(
            "SELECT report_id, payload FROM outbox WHERE published_at IS NOT NULL"
        )
        await conn.close()
        connection = await aio_pika.connect(s.amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(s.topology.reports_exchange.name)
            for row in rows:
                message = aio_pika.Message(bytes(row["payload"]), message_id=str(row["report_id"]))
                await exchange.publish(message, routing_key=REPORT_ACCEPTED_KEY)
        assert rows

    outcome = await under_load(system, "every published report delivered twice", twice)
    check(outcome, system)
    assert outcome.republished > 0  # the second deliveries were answered with the same case


async def test_broker_restarted(system: System, endpoints: harness.Endpoints) -> None:
    async def restart(s: System) -> None:
        await asyncio.to_thread(endpoints.restart_broker)

    check(await under_load(system, "RabbitMQ restarted", restart, after=3.0), system)


async def test_database_restarted(system: System, endpoints: harness.Endpoints) -> None:
    async def restart(s: System) -> None:
        await asyncio.to_thread(endpoints.restart_database)

    check(await under_load(system, "PostgreSQL restarted", restart, after=3.0), system)
