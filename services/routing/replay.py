"""Replay: re-decide stored reports under a candidate rule set and report what would change.

Each report is decided again at the moment it was first decided (so ages and "older than"
conditions read as they did), and compared with the stored decision: unit, priority and
deadline. Nothing is written.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import time
import uuid
from dataclasses import dataclass, field

import asyncpg
import msgspec

from schemas.decision import Decision
from services.common.rules.engine import RoutingView, decide
from services.common.rules.ruleset import RuleSet

# A report erased after closure (fsi-retention: its report `{}`) has nothing to decide on.
_SELECT = """
SELECT r.id, r.report, d.unit, d.priority, d.deadline_at, d.decided_at
FROM decisions d JOIN reports r ON r.id = d.report_id
WHERE d.decided_at >= $1 AND r.report <> '{}'::jsonb
"""
_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Stored:
    """What was decided, as the audit table's columns hold it."""

    report_id: uuid.UUID
    unit: str
    priority: str
    due_at: dt.datetime | None


@dataclass
class Changes:
    """What a candidate rule set would have done differently."""

    replayed: int = 0
    changed: int = 0
    units: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    priorities: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    deadlines: int = 0
    samples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, before: Stored, after: Decision) -> None:
        self.replayed += 1
        moved = before.unit != after.unit
        raised = before.priority != after.priority.value
        due_before = before.due_at
        due_after = after.deadline.due_at if after.deadline else None
        if moved:
            self.units[(before.unit, after.unit)] += 1
        if raised:
            self.priorities[(before.priority, after.priority.value)] += 1
        if due_before != due_after:
            self.deadlines += 1
        if moved or raised or due_before != due_after:
            self.changed += 1
            if len(self.samples) < 10:
                self.samples.append(str(before.report_id))

    def render(self) -> str:
        rate = self.replayed / self.seconds if self.seconds else 0.0
        lines = [
            f"replayed {self.replayed} reports in {self.seconds:.2f} s ({rate:,.0f}/s); "
            f"{self.changed} would change"
        ]
        lines += [f"  unit {a} -> {b}: {n}" for (a, b), n in self.units.most_common()]
        lines += [f"  priority {a} -> {b}: {n}" for (a, b), n in self.priorities.most_common()]
        if self.deadlines:
            lines.append(f"  deadlines changed: {self.deadlines}")
        if self.samples:
            lines.append(f"  sample report ids: {', '.join(self.samples)}")
        return "\n".join(lines)


async def replay(db_url: str, ruleset: RuleSet, since: dt.datetime) -> Changes:
    """Re-decide every report decided since `since`; the differences."""
    changes = Changes()
    started = time.perf_counter()
    conn = await asyncpg.connect(db_url)
    # jsonb arrives as its binary form (a version byte, then the text) and is handed to
    # msgspec as bytes: no str is built per report.
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=_with_version, decoder=_after_version, format="binary"
    )
    try:
        async with conn.transaction(readonly=True):
            cursor = await conn.cursor(_SELECT, since)
            pending = asyncio.ensure_future(cursor.fetch(_CHUNK))
            while rows := await pending:
                # The next chunk is read by PostgreSQL while this one is decided here.
                pending = asyncio.ensure_future(cursor.fetch(_CHUNK))
                await asyncio.sleep(0)
                _redecide(rows, ruleset, changes)
    finally:
        await conn.close()
    changes.seconds = time.perf_counter() - started
    return changes


_view = msgspec.json.Decoder(RoutingView)


def _after_version(data: bytes) -> memoryview:
    return memoryview(data)[1:]


def _with_version(text: str) -> bytes:
    return b"\x01" + text.encode()


def _redecide(rows: list[asyncpg.Record], ruleset: RuleSet, changes: Changes) -> None:
    for report_id, report, unit, priority, due_at, decided_at in rows:
        # Decided again at the moment it first was, so ages read as they did.
        after = decide(_view.decode(report), report_id, ruleset, decided_at)
        changes.add(Stored(report_id, unit, priority, due_at), after)
