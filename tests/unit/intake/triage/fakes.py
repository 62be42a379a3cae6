"""The work list in memory, for unit tests of its use cases: the same rules as PostgreSQL's
store (`worklist.claim_step`, `release_step`), the acts kept in a list."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec

from schemas.report import QualityIssue
from services.intake.people import Person
from services.intake.triage.model import Claim, ItemRow, Query
from services.intake.triage.worklist import claim_step, release_step

_NO_DEADLINE = dt.datetime.max.replace(tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class Act:
    """A person's act as `person_acts` would hold it."""

    report_id: uuid.UUID
    kind: str
    actor: str
    actor_role: str
    details: dict[str, Any]


def _key(row: ItemRow) -> tuple[dt.datetime, int, dt.datetime, uuid.UUID]:
    return (row.deadline_at or _NO_DEADLINE, -row.priority_rank, row.received_at, row.report_id)


class MemoryWorklistStore:
    """`WorklistStore` over a dict of rows (`items`), a list of acts (`acts`), and the
    quality issues of each report's versions (`issues[(report_id, version)]`, as
    `reports.quality_issues` or `report_versions.quality_issues` hold them)."""

    def __init__(self, rows: list[ItemRow] | None = None) -> None:
        self.items: dict[uuid.UUID, ItemRow] = {row.report_id: row for row in rows or []}
        self.acts: list[Act] = []
        self.issues: dict[tuple[uuid.UUID, int], list[QualityIssue]] = {}
        self.code_lookups: list[list[uuid.UUID]] = []

    async def rows(self, query: Query) -> list[ItemRow]:
        chosen = [
            row
            for row in self.items.values()
            if row.state == "waiting"
            and (query.national or row.district is None or row.district in query.visible)
            and (not query.districts or row.district in query.districts)
            and (query.reason is None or row.reason == query.reason)
            and (query.source is None or row.source == query.source)
        ]
        if query.after is not None:
            a = query.after
            start = (a.deadline_at or _NO_DEADLINE, -a.priority_rank, a.received_at, a.report_id)
            chosen = [row for row in chosen if _key(row) > start]
        return sorted(chosen, key=_key)[: query.limit]

    async def quality_codes(self, rows: Sequence[ItemRow]) -> dict[uuid.UUID, list[str]]:
        self.code_lookups.append([row.report_id for row in rows])
        return {
            row.report_id: [issue.code for issue in self.issues.get(key, [])]
            for row in rows
            if (key := (row.report_id, row.version)) in self.issues
        }

    async def claim(
        self, report_id: uuid.UUID, person: Person, now: dt.datetime, lease: dt.timedelta
    ) -> Claim:
        row = self.items.get(report_id)
        step = claim_step(row, report_id, person, now, lease)
        assert row is not None
        if step.renew:
            self.items[report_id] = msgspec.structs.replace(row, lease_until=step.lease_until)
        else:
            if step.lapsed is not None:
                self.acts.append(
                    Act(report_id, "released", step.lapsed[0], step.lapsed[1], {"lapsed": True})
                )
            self.acts.append(
                Act(
                    report_id,
                    "claimed",
                    person.subject,
                    person.acting_role,
                    {"token": step.token, "lease_until": step.lease_until},
                )
            )
            self.items[report_id] = msgspec.structs.replace(
                row,
                claimed_by=person.subject,
                claim_role=person.acting_role,
                claim_token=step.token,
                lease_until=step.lease_until,
                first_action_at=row.first_action_at or now,
            )
        return Claim(report_id, step.token, person.subject, step.lease_until)

    async def release(self, report_id: uuid.UUID, person: Person, now: dt.datetime) -> None:
        row = self.items.get(report_id)
        lapsed = release_step(row, report_id, person, now)
        assert row is not None
        role = row.claim_role or person.acting_role
        self.acts.append(Act(report_id, "released", person.subject, role, {"lapsed": lapsed}))
        self.items[report_id] = msgspec.structs.replace(
            row, claimed_by=None, claim_role=None, claim_token=None, lease_until=None
        )
