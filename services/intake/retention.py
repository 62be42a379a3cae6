"""`fsi-retention`: erase the personal data of reports whose cases closed longer ago than the
retention period.

    fsi-retention erase [--dry-run] [--batch N]

A report is due once every case a unit held of it is closed (or was returned), at least one
was closed, nothing of it waits (on the work list, for a prosecutor, for a queue), and its
last closure lies `FSI_RETENTION_AFTER_CLOSURE_DAYS` days back or more. Erasure blanks its
raw body, report, versions, the people's reasons, kept answers and the outbox's copies, and
records it (`erasures`); ids, codes and times stay (migration 0017, docs/security.md,
Retention). Batches of `--batch` reports, each in one transaction, until none is left.
`--dry-run` counts and names the reports due and changes nothing. Two runs at once share the
work (a report locked by one is skipped by the other); a run again finds nothing more.

Logs counts and report ids only, never what was erased. Uses FSI_DB_URL (outside development
a login that is a member of `fsi_retention` only). Exit status: 0 done (also when nothing was
due), 2 bad arguments, 69 PostgreSQL out of reach or migrations missing, 78 a bad setting or
login.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import asyncpg
import msgspec
from msgspec import Meta

from services.common import db, startup
from services.common import logging as fsi_logging
from services.common.settings import DatabaseSettings, Environment, LogSettings
from services.intake import retention_store

COMMAND = "fsi-retention"
# The role whose members may erase (migration 0017): the job's login, outside development.
ROLE = "fsi_retention"
# The default period, in days: a choice of this project, not a figure of the law (see
# docs/security.md, Retention): the intake is a transit point and the case lives on in the
# unit's own system, so its copy is kept only while questions about the report's way through
# the intake may still come (a quarter of a year), then erased.
DEFAULT_DAYS = 90
DEFAULT_BATCH = 500
MAX_BATCH = 10_000

log = fsi_logging.get_logger("retention")


class RetentionPolicy(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How long a closed report's personal data is kept: `after_closure_days`
    (FSI_RETENTION_AFTER_CLOSURE_DAYS, whole days from the last closure of its cases; 0 erases
    at the first run after closure; at most 36,500)."""

    after_closure_days: Annotated[int, Meta(ge=0, le=36_500)] = DEFAULT_DAYS


class RetentionSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The job's settings, from FSI_ environment variables: the database (FSI_DB_*), logging
    (FSI_LOG_*), FSI_ENVIRONMENT and the period (FSI_RETENTION_AFTER_CLOSURE_DAYS)."""

    db: DatabaseSettings = DatabaseSettings()
    log: LogSettings = LogSettings()
    environment: Environment = "production"
    retention: RetentionPolicy = RetentionPolicy()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run did: the cutoff (UTC: reports whose last closure is at or before it are
    due), the period in days, whether it was a dry run, how many reports were due (a dry
    run) or erased, and in how many batches."""

    cutoff: dt.datetime
    kept_days: int
    dry_run: bool
    reports: int
    batches: int


def cutoff(now: dt.datetime, days: int) -> dt.datetime:
    """The latest last closure a report may have to be due at `now` (aware): `days` whole
    days (24 h each) before it, in UTC. ValueError for a naive `now`."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    return (now - dt.timedelta(days=days)).astimezone(dt.UTC)


def _batch(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}") from None
    if not 1 <= value <= MAX_BATCH:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_BATCH}, not {value}")
    return value


def parser() -> argparse.ArgumentParser:
    """The command line: `erase [--dry-run] [--batch N]`."""
    top = argparse.ArgumentParser(
        prog=COMMAND,
        description="Erase the personal data of reports closed longer ago than "
        "FSI_RETENTION_AFTER_CLOSURE_DAYS.",
    )
    commands = top.add_subparsers(dest="command", required=True)
    erase = commands.add_parser("erase", help="erase what is due, batch by batch")
    erase.add_argument(
        "--dry-run", action="store_true", help="count and name the reports due; change nothing"
    )
    erase.add_argument(
        "--batch",
        type=_batch,
        default=DEFAULT_BATCH,
        help=f"reports per transaction (1 to {MAX_BATCH}; default {DEFAULT_BATCH})",
    )
    return top


async def run(
    conn: asyncpg.Connection,
    days: int,
    batch: int,
    dry_run: bool,
    now: dt.datetime | None = None,
) -> Outcome:
    """Erase (or, `dry_run`, count) what is due on `conn` at `now` (default: the clock) with
    a period of `days`; each batch logged with its count and report ids. Raises asyncpg's
    errors."""
    limit = cutoff(now or dt.datetime.now(dt.UTC), days)
    if dry_run:
        count, first = await retention_store.due(conn, limit, batch)
        log.info(
            "erasure due (dry run: nothing changed)",
            due=count,
            cutoff=limit.isoformat(),
            kept_days=days,
            report_ids=[str(d.report_id) for d in first],
            shown=len(first),
        )
        return Outcome(limit, days, True, count, 0)
    total = batches = 0
    while True:
        erased = await retention_store.erase(conn, limit, days, batch)
        if not erased:
            break
        total += len(erased)
        batches += 1
        log.info(
            "reports erased",
            erased=len(erased),
            report_ids=[str(e.report_id) for e in erased],
            columns=sorted({c for e in erased for c in e.erased}),
        )
        if len(erased) < batch:
            # Fewer than asked: nothing more is due, or the rest is another run's.
            break
    log.info(
        "erasure done", erased=total, batches=batches, cutoff=limit.isoformat(), kept_days=days
    )
    return Outcome(limit, days, False, total, batches)


async def _main(settings: RetentionSettings, args: argparse.Namespace) -> Outcome:
    # One connection's worth: the job runs one statement at a time.
    single = msgspec.structs.replace(settings.db, pool_min=1, pool_max=1)
    pool = await db.open_database(
        single, service_role=None if settings.environment == "development" else ROLE
    )
    try:
        async with pool.acquire() as conn:
            return await run(conn, settings.retention.after_closure_days, args.batch, args.dry_run)
    except (asyncpg.PostgresError, *db.CONNECTION_ERRORS) as exc:
        # Said in one line, as the services' start-up says it, with its exit code.
        raise db.database_error(exc, settings.db.url) from None
    finally:
        await pool.close()


def main(argv: Sequence[str] | None = None) -> None:
    """`fsi-retention`: run the command; returns when done (exit 0), else exits with the
    code of the failure (one line on stderr)."""
    args = parser().parse_args(argv)
    settings = startup.settings_or_exit(RetentionSettings, COMMAND)
    fsi_logging.configure(settings.log)
    try:
        asyncio.run(_main(settings, args))
    except startup.StartupError as exc:
        startup.fail(COMMAND, exc)


if __name__ == "__main__":
    main()
