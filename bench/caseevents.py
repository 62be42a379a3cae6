"""Case-events benchmark: the router applying case events from the units over AMQP, beside
a raw consume-and-acknowledge loop of the same messages on the same broker.

Runs on this machine against the local PostgreSQL and RabbitMQ, in a database and broker
prefix of its own (both removed afterwards), and prints a Markdown report.

1. Held cases: reports of bench.routing's corpus and their decisions by the default rules
   (COPY), each confirmed by its unit's queue an hour ago (`case_deliveries`, whose trigger
   makes the `unit_cases` row with the decision's priority and deadline), as the router
   records a routed case.
2. Events: per held case a `received` and one more (interview_held, brought_before_court,
   released, prosecution_decision or closed, with an outcome where one is required), dated
   within the last half hour, in a shuffled order (a case's two events may meet in one
   batch, or come in either order), published persistent with confirms to the case-events
   exchange under the case's unit, and the same bodies to a queue of the raw loop's own.
3. The raw loop (aio-pika: consume, acknowledge each, the router's case-events prefetch)
   drains its copy before and after the router; the router (`serve()`, default settings,
   log level WARNING) drains the case-events queue, timed from the moment it consumes until
   every event is in `case_events` (polled every 10 ms).

Usage: python -m bench.caseevents [--cases 10000] [--reports 2000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import io
import os
import pstats
import random
import statistics
import sys
import uuid
from dataclasses import dataclass

import aio_pika
import asyncpg
import msgspec

from bench.harness import (
    AMQP_URL,
    Rate,
    count_messages,
    publish_all,
    raw_loop,
    remove_broker_objects,
    router_over_raw,
    scratch_database,
    serving_router,
    until,
)
from bench.routing import REF, RULES, UNITS, corpus, load_reports, machine, replicas, versions
from schemas.caseevents import CASE_EVENT_TYPE, CaseEvent, CaseEventKind, CaseOutcome
from services.common import logging as fsi_logging
from services.common.rules.ruleset import load_ruleset
from services.common.settings import LogSettings
from services.common.topology import Topology, declare
from services.routing import caseevents_consumer

SECOND_KINDS = (
    CaseEventKind.INTERVIEW_HELD,
    CaseEventKind.BROUGHT_BEFORE_COURT,
    CaseEventKind.RELEASED,
    CaseEventKind.PROSECUTION_DECISION,
    CaseEventKind.CLOSED,
)
RAW_QUEUES = ("raw.events.before", "raw.events.after")
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Held:
    case_id: uuid.UUID
    report_id: uuid.UUID
    unit: str


async def seed(db_url: str, cases: int, reports: int) -> list[Held]:
    """`cases` held cases (fewer if the corpus sends too many to triage): reports and their
    decisions loaded, then confirmed by their units' queues an hour ago."""
    ruleset = load_ruleset(RULES, UNITS, REF)
    # Some reports go to triage (a fifth of the corpus) and hold no unit's case: half more.
    await load_reports(db_url, replicas(corpus(reports), cases * 3 // 2, "e"), ruleset)
    conn = await asyncpg.connect(db_url)
    try:
        routed = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        await conn.execute(
            """
            INSERT INTO case_deliveries (report_id, unit, confirmed_at)
            SELECT report_id, unit, $1 FROM decisions WHERE unit <> 'triage'
            ORDER BY report_id LIMIT $2
            """,
            routed,
            cases,
        )
        await conn.execute("ANALYZE unit_cases")
        rows = await conn.fetch("SELECT case_id, report_id, unit FROM unit_cases")
    finally:
        await conn.close()
    return [Held(r["case_id"], r["report_id"], r["unit"]) for r in rows]


def events(held: list[Held], seed_: int = 15) -> list[tuple[str, str, bytes]]:
    """Two events per case as (routing key: the unit, message id: the event id, body),
    shuffled."""
    rng = random.Random(seed_)  # noqa: S311 - test data, not secrets
    now = dt.datetime.now(dt.UTC)
    made: list[tuple[str, str, bytes]] = []
    for case in held:
        received = now - dt.timedelta(minutes=30, seconds=rng.randint(0, 600))
        second = rng.choice(SECOND_KINDS)
        needs_outcome = second in (CaseEventKind.PROSECUTION_DECISION, CaseEventKind.CLOSED)
        for kind, at in (
            (CaseEventKind.RECEIVED, received),
            (second, received + dt.timedelta(minutes=5)),
        ):
            event = CaseEvent(
                event_id=uuid.uuid4(),
                report_id=case.report_id,
                unit=case.unit,
                kind=kind,
                occurred_at=at,
                outcome=rng.choice(list(CaseOutcome)) if kind is second and needs_outcome else None,
            )
            made.append((case.unit, str(event.event_id), _encode(event)))
    rng.shuffle(made)
    return made


async def router_run(
    db_url: str, prefix: str, count: int, profile: cProfile.Profile | None
) -> tuple[Rate, float]:
    """The real router (`serve`) until `count` events are recorded; events per second from
    the moment it consumes, and seconds from start-up to consuming."""
    conn = await asyncpg.connect(db_url)
    try:
        async with serving_router(db_url, prefix, profile.enable if profile else None) as router:

            async def recorded() -> int:
                return int(await conn.fetchval("SELECT count(*) FROM case_events"))

            await until(recorded, count, 0.01)
            rate = router.watch.stop(count)
            if profile is not None:
                profile.disable()
    finally:
        await conn.close()
    return rate, router.startup


@dataclass(frozen=True, slots=True)
class Result:
    cases: int
    events: int
    size: float
    prefetch: int
    raw_before: Rate
    raw_after: Rate
    router: Rate
    startup: float
    dead: int
    left: int

    @property
    def ratio(self) -> float:
        return router_over_raw(self.router, self.raw_before, self.raw_after)


async def measure(db_url: str, prefix: str, args: argparse.Namespace) -> tuple[Result, str]:
    """Seed, publish, run the raw loop, the router, the raw loop; the figures and a profile
    of the router's process (empty unless asked)."""
    held = await seed(db_url, args.cases, args.reports)
    messages = events(held)
    prefetch = caseevents_consumer.PREFETCH  # the router's case-events channel's
    topology = Topology(prefix=prefix)
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await declare(channel, topology)
        for name in RAW_QUEUES:
            await channel.declare_queue(f"{prefix}{name}", durable=True)
            raw = [(f"{prefix}{name}", message_id, body) for _, message_id, body in messages]
            await publish_all(channel.default_exchange, CASE_EVENT_TYPE, raw)
        exchange = await channel.get_exchange(topology.case_events_exchange.name)
        await publish_all(exchange, CASE_EVENT_TYPE, messages)
    profile = cProfile.Profile() if args.profile else None
    raw_before = await raw_loop(f"{prefix}{RAW_QUEUES[0]}", len(messages), prefetch)
    router, startup = await router_run(db_url, prefix, len(messages), profile)
    raw_after = await raw_loop(f"{prefix}{RAW_QUEUES[1]}", len(messages), prefetch)
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        dead = await count_messages(channel, [topology.dead_letter_queue.name])
        left = await count_messages(channel, [topology.case_events_queue.name])
    text = ""
    if profile is not None:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("tottime").print_stats(20)
        # Ours by cumulative time: how much of it is the store (apply_events) and the rest.
        stats.sort_stats("cumulative").print_stats(r"services/", 15)
        text = out.getvalue()
    result = Result(
        cases=len(held),
        events=len(messages),
        size=statistics.mean(len(b) for _, _, b in messages),
        prefetch=prefetch,
        raw_before=raw_before,
        raw_after=raw_after,
        router=router,
        startup=startup,
        dead=dead,
        left=left,
    )
    return result, text


async def bench(args: argparse.Namespace) -> str:
    """Run the measurement in a database and prefix of its own; the Markdown report."""
    load_before = os.getloadavg()[0]
    postgres, rabbit = await versions()
    async with scratch_database() as (db_url, prefix):
        try:
            result, profile = await measure(db_url, prefix, args)
        finally:
            units = load_ruleset(RULES, UNITS, REF).catalogue.units
            await remove_broker_objects(prefix, units, RAW_QUEUES)
    load_after = os.getloadavg()[0]
    r = result
    lines = [
        f"Machine: {machine(postgres, rabbit)}",
        f"Date: {dt.date.today()}; load average (1 min) at the start / end of the run: "
        f"{load_before:.2f} / {load_after:.2f} (other work on the machine shows here).",
        "",
        f"{r.cases:,} held cases, {r.events:,} case events (a `received` and one more each, "
        f"shuffled; {r.size:,.0f} bytes on average), prefetch {r.prefetch}.",
        "",
        "| consumer | events | events/s | CPU of this process |",
        "|---|---:|---:|---:|",
        f"| raw aio-pika loop: consume, acknowledge each, before the router | {r.events:,} "
        f"| {r.raw_before.per_second:,.0f} | {r.raw_before.cpu_share} |",
        f"| the router (`serve()`, default settings, log level WARNING): read, check, "
        f"`apply_events` per batch, acknowledge | {r.events:,} "
        f"| {r.router.per_second:,.0f} | {r.router.cpu_share} |",
        f"| the raw loop again, after the router | {r.events:,} "
        f"| {r.raw_after.per_second:,.0f} | {r.raw_after.cpu_share} |",
        "",
        f"Applied: {r.router.per_second:,.0f} events/s (target ≥ 2,000: "
        f"{'met' if r.router.per_second >= 2000 else 'NOT met'}); router / raw (the mean of "
        f"before and after): {r.ratio:.2f}. The router's time runs from the moment it "
        f"consumes (its start-up, {r.startup:.2f} s, excluded) until every event is a row of "
        "`case_events`; the router and the raw loop run in this process, PostgreSQL and "
        f"RabbitMQ beside it on the same machine. Dead-lettered: {r.dead}; left in the "
        f"queue: {r.left}.",
    ]
    if profile:
        lines += ["", "The router's process while it applied (cProfile, by own time):", "```"]
        lines += [profile.rstrip(), "```"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=10_000, help="held cases (2 events each)")
    parser.add_argument("--reports", type=int, default=2000, help="corpus the reports cycle")
    parser.add_argument(
        "--profile", action="store_true", help="profile the router's process while it applies"
    )
    args = parser.parse_args()
    fsi_logging.configure(LogSettings(level="WARNING"), stream=sys.stderr)
    print(asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
