"""PostgreSQL's report store answers as the unit tests' in-memory one does: accepted,
duplicate and conflict, within a batch and across batches, and the report read back."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
import msgspec

from schemas import reference
from schemas.report import Report
from services.common.standardise import Options
from services.intake.service import IntakeService, ReportStore, Submission
from services.intake.store import PgReportStore
from services.intake.validation import ReportProblems
from tests.unit.intake.fakes import MemoryReportStore

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "report.youth-robbery.json"


def sent(external_id: str, description: str = "As written.") -> Submission:
    report = msgspec.json.decode(EXAMPLE.read_bytes(), type=Report)
    incident = msgspec.structs.replace(report.incident, description=description)
    changed = msgspec.structs.replace(report, external_id=external_id, incident=incident)
    return Submission("client-a", changed, b"{}", "application/json")


BATCHES = [
    [sent("a"), sent("b")],
    # Again, other content under a kept reference, a new one twice, and one sent twice with
    # different content in the same batch.
    [sent("a"), sent("b", "Told otherwise."), sent("c"), sent("c"), sent("d"), sent("d", "No.")],
    [],
    [sent("d", "No."), sent("e", "")],  # the last breaks the contract: a problem, not stored
]


Read = tuple[str, str, str, Report]


async def answers(store: ReportStore) -> tuple[list[list[tuple[str, int]]], list[Read]]:
    """Each batch's outcomes with the report ids numbered by first appearance, and what each
    accepted report reads back as (client, status, format, report)."""
    intake = IntakeService(store=store, reference=reference.load(), options=Options())
    numbers: dict[uuid.UUID, int] = {}
    said = []
    for batch in BATCHES:
        results = await intake.submit(batch)
        said.append(
            [
                ("problems", -1)
                if isinstance(r, ReportProblems)
                else (str(r.outcome), numbers.setdefault(r.report_id, len(numbers)))
                for r in results
            ]
        )
    read: list[Read] = []
    for report_id in numbers:
        row = await store.get_report(report_id)
        assert row is not None
        report = msgspec.json.decode(row.report_json, type=Report)  # jsonb orders keys its way
        read.append((row.client_id, row.status, row.source_format, report))
    assert await store.get_report(uuid.uuid4()) is None
    assert await store.ping()
    return said, read


async def test_postgresql_and_the_in_memory_store_answer_alike(intake_database_url: str) -> None:
    pool = await asyncpg.create_pool(intake_database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        in_postgresql = await answers(PgReportStore(pool))
    finally:
        await pool.close()
    in_memory = await answers(MemoryReportStore())
    assert in_postgresql == in_memory
    assert in_memory[0][1] == [
        ("duplicate", 0),
        ("conflict", 1),
        ("accepted", 2),
        ("duplicate", 2),
        ("accepted", 3),
        ("conflict", 3),
    ]
