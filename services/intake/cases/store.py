"""Where a posted case event is applied: the store the HTTP door needs, and the one over
PostgreSQL (`services.common.caseevents.store.apply_events`, one event per call)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from services.common.caseevents.model import HeldCase
from services.common.caseevents.store import Incoming, Outcome, apply_events, cases_of


@dataclass(frozen=True, slots=True)
class Applied:
    """What became of one event (`Outcome`) and, when it was applied or repeated, its case
    as it now is (for the deadline's due and met times; None when refused)."""

    outcome: Outcome
    case: HeldCase | None


class CaseEventStore(Protocol):
    """Applies one event a unit posted."""

    async def apply(self, incoming: Incoming, now: dt.datetime) -> Applied:
        """Judge and apply `incoming` at `now` (UTC): applied, a repeat, or refused (nothing
        changed). Raises what the database raises when it fails."""
        ...


class PgCaseEvents:
    """`CaseEventStore` on the intake's PostgreSQL pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def apply(self, incoming: Incoming, now: dt.datetime) -> Applied:
        """As `CaseEventStore.apply`. Two requests recording the same new event id at once
        for different cases collide on its key: the loser is judged again, and then finds
        the winner's event (a conflict; a repeat when it is the same event)."""
        try:
            return await self._apply(incoming, now)
        except asyncpg.UniqueViolationError:
            return await self._apply(incoming, now)

    async def _apply(self, incoming: Incoming, now: dt.datetime) -> Applied:
        async with self._pool.acquire() as conn:
            (outcome,) = await apply_events(conn, [incoming], now)
            if outcome.case_id is None:
                return Applied(outcome, None)
            held = await cases_of(conn, incoming.event.report_id)
        return Applied(outcome, next((c for c in held if c.case_id == outcome.case_id), None))
