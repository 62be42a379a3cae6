"""The erasure after closure in PostgreSQL: which reports are due, and erasing a batch of them
through migration 0017's one door (`erase_after_closure`)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class Due:
    """A report due for erasure: its id and the last closure of its cases (UTC)."""

    report_id: uuid.UUID
    closed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Erased:
    """A report just erased: its id, its last closure (UTC), and what was blanked as
    `table.column` names (`person_decisions.decision.decided_by.reason` for a JSON member)."""

    report_id: uuid.UUID
    closed_at: dt.datetime
    erased: tuple[str, ...]


_COUNT = "SELECT count(*) FROM erasable_after_closure($1)"
_FIRST = "SELECT report_id, closed_at FROM erasable_after_closure($1) LIMIT $2"
_ERASE = "SELECT report_id, closed_at, erased FROM erase_after_closure($1, $2, $3)"


async def due(conn: asyncpg.Connection, cutoff: dt.datetime, first: int) -> tuple[int, list[Due]]:
    """How many reports are due at `cutoff` (their last closure at or before it, every case
    ended, nothing waiting), and the `first` of them, newest closure first. Reads ids, states
    and times only."""
    count = await conn.fetchval(_COUNT, cutoff)
    rows = await conn.fetch(_FIRST, cutoff, first)
    return int(count), [Due(r["report_id"], r["closed_at"]) for r in rows]


async def erase(
    conn: asyncpg.Connection, cutoff: dt.datetime, kept_days: int, batch: int
) -> list[Erased]:
    """Erase up to `batch` reports due at `cutoff`, recording `kept_days` as the period, in
    one transaction (one statement); the reports erased. A report another run has locked is
    left to it, one erased meanwhile is not erased again. Raises asyncpg's errors."""
    rows = await conn.fetch(_ERASE, cutoff, kept_days, batch)
    return [Erased(r["report_id"], r["closed_at"], tuple(r["erased"])) for r in rows]
