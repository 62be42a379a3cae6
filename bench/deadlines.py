"""Deadline figures benchmark: the operations overview's per-unit deadline figures
(`services.common.caseevents.figures.deadline_figures`) at 1,000,000 held cases and
3,000,000 case events.

Runs against the local PostgreSQL in a database of its own (removed afterwards): the
migrations, then held cases and their events made by SQL (`generate_series`), as the
superuser with `session_replication_role = replica` so the foreign keys to `reports` are not
checked (the figures read `unit_cases` only; a million reports would add nothing to what is
measured). The mix: the catalogue's units (98), cases routed over the past year, about 20 %
with a deadline (custody from arrest, 1-3 days; barnehus one week; § 249 six weeks; rape 130
days), most met on time, some late, about 3 % never met (missed once due, open before);
0.5 % not received, 2 % returned, most cases older than two months closed. Then VACUUM
(ANALYZE), as autovacuum keeps a live table (index-only scans need the visibility map).

It times `deadline_figures` `--runs` times as the intake's role (p50, p99, max) and prints
the statement's plan with EXPLAIN (ANALYZE, BUFFERS), custom and generic (asyncpg prepares
the statement, and PostgreSQL may switch to a generic plan after five runs), as Markdown.

Usage: python -m bench.deadlines [--cases 1000000] [--events-per-case 3] [--runs 50]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time

import asyncpg

from bench import logins
from bench.harness import scratch_database
from bench.intake import machine, percentile
from bench.routing import REF, RULES, UNITS
from services.common import logging as fsi_logging
from services.common.caseevents.figures import FIGURES, deadline_figures, totals
from services.common.rules.ruleset import load_ruleset
from services.common.settings import LogSettings

NOT_RECEIVED_AFTER = dt.timedelta(hours=1)

# $1 units (text[]), $2 now, $3 how many. Random draws per case: d (a deadline, and which),
# m (met: on time, late or never), r (received, returned or neither), c (closed), x.
_CASES = """
WITH drawn AS (
    SELECT $1::text[] AS units, random() AS d, random() AS m, random() AS r, random() AS c,
           random() AS x, $2::timestamptz - random() * interval '365 days' AS routed_at
    FROM generate_series(1, $3)
), deadline AS (
    SELECT *,
        CASE WHEN d < 0.03 THEN 'arrest' WHEN d < 0.20 THEN 'report' END AS moment,
        CASE WHEN d < 0.03 THEN interval '1 day' * (1 + floor(d * 100)::int % 3)
             WHEN d < 0.08 THEN interval '1 week'
             WHEN d < 0.15 THEN interval '6 weeks'
             WHEN d < 0.20 THEN interval '130 days' END AS span
    FROM drawn
), fates AS (
    SELECT *, routed_at + span AS due_at,
        CASE WHEN r < 0.005 THEN 'not_received' WHEN r < 0.025 THEN 'returned'
             ELSE 'received' END AS fate,
        CASE WHEN span IS NULL OR r BETWEEN 0.005 AND 0.025 THEN NULL
             WHEN m < 0.90 THEN routed_at + span * (m / 0.90) * 0.98
             WHEN m < 0.97 THEN routed_at + span + interval '1 hour' * ((m - 0.90) * 1000)
        END AS met_candidate,
        routed_at + interval '1 day' * (20 + c * 60) AS close_candidate
    FROM deadline
)
INSERT INTO unit_cases (case_id, report_id, unit, priority, routed_at, received_at,
                        returned_at, return_reason, closed_at, outcome, last_event_at, due_at,
                        deadline_moment, deadline_basis, deadline_rule, met_by, met_at,
                        met_event)
SELECT gen_random_uuid(), gen_random_uuid(),
       units[1 + floor(x * array_length(units, 1))::int],
       (ARRAY['critical', 'high', 'normal', 'low'])[1 + floor(random() * 4)::int],
       routed_at,
       CASE WHEN fate = 'received' THEN routed_at + interval '1 minute' * (1 + x * 120) END,
       CASE WHEN fate = 'returned' THEN routed_at + interval '2 hours' END,
       CASE WHEN fate = 'returned' THEN 'wrong_unit' END,
       closed, CASE WHEN closed IS NOT NULL THEN 'dismissed' END,
       greatest(CASE WHEN fate = 'received' THEN routed_at + interval '2 hours' END,
                CASE WHEN fate = 'returned' THEN routed_at + interval '2 hours' END, met, closed),
       due_at, moment,
       CASE WHEN moment IS NOT NULL THEN 'bench' END,
       CASE WHEN moment IS NOT NULL THEN 'bench-' || moment END,
       CASE moment WHEN 'arrest' THEN ARRAY['brought_before_court', 'released']
                   WHEN 'report' THEN ARRAY['prosecution_decision', 'closed']
                   ELSE '{}'::text[] END,
       met, CASE WHEN met IS NOT NULL THEN gen_random_uuid() END
FROM fates,
     LATERAL (SELECT CASE WHEN met_candidate <= $2 THEN met_candidate END AS met,
                     CASE WHEN fate = 'received' AND c < 0.7 AND close_candidate <= $2
                          THEN close_candidate END AS closed) AS t
"""
# $1 events per case: received, then prosecution decisions, then closed (kinds the figures do
# not read: the table's size is what counts).
_EVENTS = """
INSERT INTO case_events (event_id, case_id, report_id, unit, kind, occurred_at, recorded_at,
                         outcome, client, via, digest)
SELECT gen_random_uuid(), c.case_id, c.report_id, c.unit,
       CASE WHEN i = 1 THEN 'received' WHEN i = $1 THEN 'closed'
            ELSE 'prosecution_decision' END,
       c.routed_at + interval '1 hour' * i, c.routed_at + interval '1 hour' * i,
       CASE WHEN i = $1 THEN 'dismissed' END, 'bench', 'amqp',
       decode(md5(c.case_id::text || i), 'hex')
FROM unit_cases c CROSS JOIN generate_series(1, $1) AS i
"""


async def load(db_url: str, units: list[str], now: dt.datetime, args: argparse.Namespace) -> str:
    """The cases and events, vacuumed and analysed; a line of what was loaded and how long."""
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("SET session_replication_role = replica")
        started = time.perf_counter()
        await conn.execute(_CASES, units, now, args.cases)
        cases = time.perf_counter() - started
        await conn.execute(_EVENTS, args.events_per_case)
        events = time.perf_counter() - started - cases
        await conn.execute("VACUUM (ANALYZE) unit_cases")
        await conn.execute("VACUUM (ANALYZE) case_events")
        vacuum = time.perf_counter() - started - cases - events
        sizes = await conn.fetchrow(
            "SELECT pg_size_pretty(pg_total_relation_size('unit_cases')) AS cases, "
            "pg_size_pretty(pg_total_relation_size('case_events')) AS events"
        )
    finally:
        await conn.close()
    return (
        f"Loaded {args.cases:,} cases in {cases:.0f} s ({sizes['cases']} with indexes), "
        f"{args.cases * args.events_per_case:,} events in {events:.0f} s ({sizes['events']}); "
        f"VACUUM (ANALYZE) {vacuum:.0f} s."
    )


async def plans(db_url: str, now: dt.datetime) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the figures' statement as a prepared statement runs it:
    the custom plan (made for the values) and the generic one (made once for any values)."""
    conn = await asyncpg.connect(db_url)
    values = f"'{now.isoformat()}', '{(now - NOT_RECEIVED_AFTER).isoformat()}'"
    shown = []
    try:
        await conn.execute(f"PREPARE figures (timestamptz, timestamptz) AS {FIGURES}")
        for mode in ("force_custom_plan", "force_generic_plan"):
            await conn.execute(f"SET plan_cache_mode = {mode}")
            rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE figures ({values})")
            shown.append("\n".join(row[0] for row in rows))
    finally:
        await conn.close()
    return shown


async def timings(db_url: str, now: dt.datetime, runs: int) -> tuple[list[float], str]:
    """`runs` timed calls of `deadline_figures` (after five untimed), seconds each, and the
    totals of the last call in one line."""
    conn = await asyncpg.connect(db_url)
    try:
        for _ in range(5):
            await deadline_figures(conn, now, NOT_RECEIVED_AFTER)
        took = []
        for _ in range(runs):
            started = time.perf_counter()
            figures = await deadline_figures(conn, now, NOT_RECEIVED_AFTER)
            took.append(time.perf_counter() - started)
    finally:
        await conn.close()
    t = totals(figures)
    line = (
        f"{len(figures)} units shown; open {t.open:,}, due within 24 h {t.due_within_24h:,}, "
        f"missed {t.missed:,} ({', '.join(f'{k} {v:,}' for k, v in t.missed_by_moment.items())}), "
        f"due in the last 30 days {t.due_last_30_days:,}, met on time "
        f"{t.met_on_time_last_30_days:,} (share {t.share_met_on_time}), "
        f"not received after {NOT_RECEIVED_AFTER} {t.not_received:,}."
    )
    return took, line


async def bench(args: argparse.Namespace) -> str:
    """Load, time, explain; the Markdown report."""
    units = sorted(load_ruleset(RULES, UNITS, REF).catalogue.units)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    async with scratch_database() as (db_url, _):
        loaded = await load(db_url, units, now, args)
        intake_url = await logins.service_url(db_url, "fsi_intake")
        took, figures = await timings(intake_url, now, args.runs)
        shown = await plans(intake_url, now)
    ms = [t * 1000 for t in took]
    lines = [
        f"Machine: {machine()}",
        f"{loaded} {len(units)} units.",
        f"Figures: {figures}",
        "",
        "| measurement | runs | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|",
        f"| deadline_figures (one statement, as fsi_intake) | {len(ms)} | "
        f"{percentile(ms, 0.5):.1f} | {percentile(ms, 0.99):.1f} | {max(ms):.1f} |",
        "",
        "Target: under 100 ms at 1,000,000 cases and 3,000,000 events.",
    ]
    for title, plan in zip(("custom", "generic"), shown, strict=True):
        lines += ["", f"EXPLAIN (ANALYZE, BUFFERS), {title} plan:", "", "```", plan, "```"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--events-per-case", type=int, default=3)
    parser.add_argument("--runs", type=int, default=50)
    fsi_logging.configure(LogSettings(level="WARNING"), stream=sys.stderr)
    print(asyncio.run(bench(parser.parse_args())))


if __name__ == "__main__":
    main()
