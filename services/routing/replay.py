"""Replay: re-decide stored reports under a candidate rule set and report what would change.

Each report is decided again at the moment it was first decided (so ages and "older than"
conditions read as they did), and compared with the stored decision: unit, priority and
deadline. Nothing is written.
"""

from __future__ import annotations

import collections
import datetime as dt
from dataclasses import dataclass, field

import asyncpg
import msgspec

from schemas.decision import Decision
from schemas.report import Report
from services.routing.engine import decide
from services.routing.rules import RuleSet

_SELECT = """
SELECT r.id, r.report::text AS report, d.decision::text AS decision
FROM decisions d JOIN reports r ON r.id = d.report_id
WHERE d.decided_at >= $1
ORDER BY d.decided_at
"""


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

    def add(self, before: Decision, after: Decision) -> None:
        self.replayed += 1
        moved = before.unit != after.unit
        raised = before.priority != after.priority
        due_before = before.deadline.due_at if before.deadline else None
        due_after = after.deadline.due_at if after.deadline else None
        if moved:
            self.units[(before.unit, after.unit)] += 1
        if raised:
            self.priorities[(before.priority.value, after.priority.value)] += 1
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
    report_decoder = msgspec.json.Decoder(Report)
    decision_decoder = msgspec.json.Decoder(Decision)
    changes = Changes()
    started = dt.datetime.now(dt.UTC)
    conn = await asyncpg.connect(db_url)
    try:
        async with conn.transaction(readonly=True):
            async for row in conn.cursor(_SELECT, since, prefetch=2000):
                before = decision_decoder.decode(row["decision"])
                report = report_decoder.decode(row["report"])
                changes.add(before, decide(report, row["id"], ruleset, before.decided_at))
    finally:
        await conn.close()
    changes.seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    return changes
