"""Outbox rows the relay set aside: list them, or put them back to be published.

    python -m services.intake.outbox_cli list
    python -m services.intake.outbox_cli put-back REPORT_ID [REPORT_ID ...]
    python -m services.intake.outbox_cli put-back --all

Uses FSI_DB_URL and FSI_DB_POOLER like the services. A row put back has its unsettled claims
forgotten and is published at the relay's next poll, under its report id as `message_id`:
a report the router has already decided is answered with its stored decision, not a new one.
Exit status: 0 done, 1 the database failed, 2 bad arguments or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Sequence
from typing import TextIO

import msgspec
from asyncpg import PostgresError

from services.common import db, startup
from services.common import settings as fsi_settings
from services.intake import outbox_store


class OutboxCliSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The database of the outbox."""

    db: fsi_settings.DatabaseSettings = fsi_settings.DatabaseSettings()


def _report_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a report id (a UUID): {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.intake.outbox_cli",
        description="List the outbox rows the relay set aside, or put them back.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the rows set aside, oldest first")
    back = commands.add_parser("put-back", help="make rows claimable by the relay again")
    which = back.add_mutually_exclusive_group(required=True)
    which.add_argument("report_ids", nargs="*", type=_report_id, default=[])
    which.add_argument("--all", action="store_true", help="every row set aside")
    return parser


async def _run(settings: OutboxCliSettings, args: argparse.Namespace, out: TextIO) -> None:
    conn = await db.connect(settings.db)
    try:
        if args.command == "list":
            rows = await outbox_store.set_aside(conn)
            for row in rows:
                print(
                    f"{row['report_id']}  attempts {row['attempts']}  set aside "
                    f"{row['set_aside_at'].isoformat()}  accepted {row['created_at'].isoformat()}",
                    file=out,
                )
            print(f"{len(rows)} set aside", file=out)
        else:
            count = await outbox_store.put_back(conn, None if args.all else args.report_ids)
            print(f"{count} put back", file=out)
    finally:
        await conn.close()


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """Run one command; the exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = fsi_settings.load(OutboxCliSettings)
    except fsi_settings.SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_run(settings, args, out))
    except (PostgresError, ValueError, OverflowError, *db.CONNECTION_ERRORS) as exc:
        # In words, as the services' start-up says it; a setting that is wrong (a port that
        # is no TCP port, a login refused) is bad input (2), the rest a failure (1).
        error = db.database_error(exc, settings.db.url)
        print(f"error: {error}", file=sys.stderr)
        return 2 if error.exit_code == startup.EXIT_CONFIG else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
