"""The units' deadline figures, exact from `unit_cases`: open, due soon, missed, met on time.

A deadline is *met* by the earliest event of a kind its rule names (`met_at`), *on time* when
that is no later than `due_at`; it ends for a unit that returned the case unmet (the report
goes back to the work list, and its next unit holds the deadline). So, at `now`:

- open: not met, not returned, `due_at > now`; due within 24 h: open and `due_at <= now + 24 h`;
- missed: not met, not returned, `due_at <= now` (a closed case too: closing it meets only a
  deadline whose rule names `closed`), counted by the moment the rule counted from
  (`arrest`, `report`, ...; `none` when the rule named none);
- the last 30 days: deadlines with `now - 30 d < due_at <= now` that fell due while the unit
  held the case (not returned unmet before `due_at`), and how many of them were met at or
  before `due_at`; their share (None when none fell due);
- not received: routed longer ago than `not_received_after`, and neither received, returned
  nor closed.

One statement (one snapshot), three parts, each answered by a partial index of migration 0015
(`unit_cases_deadline_unmet`, `unit_cases_deadline_due`, `unit_cases_not_received`), so its
cost follows the deadlines not met, the deadlines of the last 30 days and the cases not
received, never the whole table (docs/operations.md, "Deadline figures: the queries and their
plans"; bench/deadlines.py measures it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec

# The moment label of a deadline whose rule named none (metric label and JSON key).
NO_MOMENT = "none"
SHARE_WINDOW = dt.timedelta(days=30)
DUE_SOON = dt.timedelta(hours=24)

# $1: now (timestamptz), $2: the time after which a routed case counts as not received.
UNMET = """
SELECT unit, deadline_moment AS moment,
       count(*) FILTER (WHERE due_at > $1)::int AS open,
       count(*) FILTER (WHERE due_at > $1 AND due_at <= $1 + interval '24 hours')::int
           AS due_soon,
       count(*) FILTER (WHERE due_at <= $1)::int AS missed,
       min(due_at) FILTER (WHERE due_at > $1) AS next_due
FROM unit_cases
WHERE due_at IS NOT NULL AND met_at IS NULL AND returned_at IS NULL
GROUP BY unit, deadline_moment
"""
# A deadline returned unmet before it fell due was not this unit's to meet.
DUE_LAST_30_DAYS = """
SELECT unit, count(*)::int AS due,
       count(*) FILTER (WHERE met_at <= due_at)::int AS met_on_time
FROM unit_cases
WHERE due_at IS NOT NULL AND due_at > $1 - interval '30 days' AND due_at <= $1
  AND (returned_at IS NULL OR returned_at > due_at OR met_at IS NOT NULL)
GROUP BY unit
"""
NOT_RECEIVED = """
SELECT unit, count(*)::int AS not_received
FROM unit_cases
WHERE received_at IS NULL AND returned_at IS NULL AND closed_at IS NULL
  AND routed_at < $2
GROUP BY unit
"""
# The three in one round trip and one snapshot; `part` says which one a row comes from.
FIGURES = f"""
SELECT 'unmet' AS part, unit, moment, open, due_soon, missed, next_due,
       0 AS due, 0 AS met_on_time, 0 AS not_received
FROM ({UNMET}) AS unmet
UNION ALL
SELECT 'due', unit, NULL, 0, 0, 0, NULL, due, met_on_time, 0
FROM ({DUE_LAST_30_DAYS}) AS due
UNION ALL
SELECT 'not_received', unit, NULL, 0, 0, 0, NULL, 0, 0, not_received
FROM ({NOT_RECEIVED}) AS not_received
"""  # noqa: S608 (constants of this module only)


class DeadlineCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Counts of cases by their deadlines at one moment (see the module docstring).
    `missed_by_moment`: the missed deadlines by the moment their rule counted from
    (`NO_MOMENT` for none); its values sum to `missed`. `share_met_on_time`: 0..1, None when
    no deadline fell due in the last 30 days."""

    open: int = 0
    due_within_24h: int = 0
    missed: int = 0
    missed_by_moment: dict[str, int] = msgspec.field(default_factory=dict)
    due_last_30_days: int = 0
    met_on_time_last_30_days: int = 0
    share_met_on_time: float | None = None
    not_received: int = 0


class UnitDeadlineFigures(DeadlineCounts, frozen=True, kw_only=True):
    """One unit's figures; `next_due_at`: the earliest of its open deadlines."""

    unit: str
    next_due_at: dt.datetime | None = None


class DeadlineTotals(DeadlineCounts, frozen=True, kw_only=True):
    """The figures of every unit together (the share over all deadlines that fell due)."""


def share(met: int, due: int) -> float | None:
    """`met` of `due` as a fraction rounded to 4 places; None when nothing fell due."""
    return round(met / due, 4) if due else None


def _order(figures: UnitDeadlineFigures) -> tuple[int, int, int, str]:
    # Most missed first, then most due soon, then the most not received: what to act on.
    return (-figures.missed, -figures.due_within_24h, -figures.not_received, figures.unit)


@dataclass
class _Counting:
    open: int = 0
    due_soon: int = 0
    missed: int = 0
    moments: dict[str, int] = field(default_factory=dict)
    due: int = 0
    met_on_time: int = 0
    not_received: int = 0
    next_due: dt.datetime | None = None

    def add(self, row: Mapping[str, Any]) -> None:
        self.open += row["open"]
        self.due_soon += row["due_soon"]
        self.missed += row["missed"]
        self.due += row["due"]
        self.met_on_time += row["met_on_time"]
        self.not_received += row["not_received"]
        if row["missed"]:
            moment = row["moment"] or NO_MOMENT
            self.moments[moment] = self.moments.get(moment, 0) + row["missed"]
        if row["next_due"] is not None:
            self.next_due = min(filter(None, (self.next_due, row["next_due"])))

    def figures(self, unit: str) -> UnitDeadlineFigures:
        return UnitDeadlineFigures(
            unit=unit,
            open=self.open,
            due_within_24h=self.due_soon,
            missed=self.missed,
            missed_by_moment=dict(sorted(self.moments.items())),
            due_last_30_days=self.due,
            met_on_time_last_30_days=self.met_on_time,
            share_met_on_time=share(self.met_on_time, self.due),
            not_received=self.not_received,
            next_due_at=self.next_due,
        )


def unit_figures(rows: Iterable[Mapping[str, Any]]) -> list[UnitDeadlineFigures]:
    """The figures of `FIGURES`' rows (part, unit, moment, open, due_soon, missed, next_due,
    due, met_on_time, not_received), one per unit with any row, most missed first."""
    by_unit: dict[str, _Counting] = {}
    for row in rows:
        by_unit.setdefault(row["unit"], _Counting()).add(row)
    return sorted((c.figures(unit) for unit, c in by_unit.items()), key=_order)


def totals(figures: Sequence[UnitDeadlineFigures]) -> DeadlineTotals:
    """Every unit's figures added up; the share over all deadlines that fell due."""
    moments: dict[str, int] = {}
    for f in figures:
        for moment, count in f.missed_by_moment.items():
            moments[moment] = moments.get(moment, 0) + count
    due = sum(f.due_last_30_days for f in figures)
    met = sum(f.met_on_time_last_30_days for f in figures)
    return DeadlineTotals(
        open=sum(f.open for f in figures),
        due_within_24h=sum(f.due_within_24h for f in figures),
        missed=sum(f.missed for f in figures),
        missed_by_moment=dict(sorted(moments.items())),
        due_last_30_days=due,
        met_on_time_last_30_days=met,
        share_met_on_time=share(met, due),
        not_received=sum(f.not_received for f in figures),
    )


async def deadline_figures(
    conn: asyncpg.Connection, now: dt.datetime, not_received_after: dt.timedelta
) -> list[UnitDeadlineFigures]:
    """Each unit's deadline figures at `now` (aware), units with anything to show only, most
    missed first. `not_received_after`: how long after routing a case not yet received by its
    unit is counted (FSI_OPS_NOT_RECEIVED_AFTER_SECONDS). Raises asyncpg's errors."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    rows = await conn.fetch(FIGURES, now, now - not_received_after)
    return unit_figures(rows)
