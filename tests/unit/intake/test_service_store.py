"""The intake's use case over its store: accepted, repeated, conflicting, read back, and a
batch item that cannot be standardised, with the in-memory store the unit tests use."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.envelope import ReportAccepted
from schemas.report import Report
from services.common.standardise import Options, standardise
from services.intake.records import Outcome
from services.intake.service import IntakeService, Result, Submission
from services.intake.validation import ReportProblems
from tests.unit.intake.fakes import MemoryReportStore

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "report.youth-robbery.json"
REFERENCE = reference.load()


def a_report(**changes: Any) -> Report:
    report = msgspec.json.decode(EXAMPLE.read_bytes(), type=Report)
    return msgspec.structs.replace(report, **changes)


def submission(report: Report, body: bytes = b"{}") -> Submission:
    return Submission("client-a", report, body, "application/json")


@pytest.fixture
def kept() -> MemoryReportStore:
    return MemoryReportStore()


@pytest.fixture
def intake(kept: MemoryReportStore) -> IntakeService:
    return IntakeService(store=kept, reference=REFERENCE, options=Options())


async def submit_one(intake: IntakeService, item: Submission) -> Result:
    [result] = await intake.submit([item])
    assert isinstance(result, Result)
    return result


async def test_a_new_report_is_accepted_and_kept_with_its_outbox_message(
    intake: IntakeService, kept: MemoryReportStore
) -> None:
    result = await submit_one(intake, submission(a_report()))
    assert result.outcome is Outcome.ACCEPTED
    # The example's synthetic identity number is a soft problem: the caller is told.
    assert [i.code for i in result.quality_issues] == ["national_id.synthetic"]
    message = msgspec.json.decode(kept.outbox[result.report_id], type=ReportAccepted)
    assert message.report_id == result.report_id
    assert message.report.quality_issues == result.quality_issues


async def test_the_same_report_again_is_a_duplicate_of_the_first_and_writes_nothing(
    intake: IntakeService, kept: MemoryReportStore
) -> None:
    first = await submit_one(intake, submission(a_report(), b'{"as": "sent first"}'))
    again = await submit_one(intake, submission(a_report(), b'{"as": "sent again"}'))
    assert (again.outcome, again.report_id, again.quality_issues) == (
        Outcome.DUPLICATE,
        first.report_id,
        [],
    )
    assert list(kept.outbox) == [first.report_id]


async def test_other_content_under_a_kept_reference_is_a_conflict_and_the_first_stays(
    intake: IntakeService, kept: MemoryReportStore
) -> None:
    report = a_report()
    first = await submit_one(intake, submission(report))
    changed = msgspec.structs.replace(
        report, incident=msgspec.structs.replace(report.incident, description="Something else.")
    )
    conflict = await submit_one(intake, submission(changed))
    assert (conflict.outcome, conflict.report_id) == (Outcome.CONFLICT, first.report_id)
    row = await kept.get_report(first.report_id)
    assert row is not None
    kept_report = msgspec.json.decode(row.report_json, type=Report)
    assert kept_report.incident.description == report.incident.description


async def test_a_kept_report_reads_back_in_its_standardised_form(
    intake: IntakeService, kept: MemoryReportStore
) -> None:
    result = await submit_one(intake, submission(a_report()))
    row = await intake.store.get_report(result.report_id)
    assert row is not None
    assert (row.id, row.client_id, row.status, row.source_format) == (
        result.report_id,
        "client-a",
        "accepted",
        "canonical",
    )
    standard = msgspec.json.decode(row.report_json, type=Report)
    assert standard == msgspec.json.decode(kept.outbox[row.id], type=ReportAccepted).report
    assert await intake.store.get_report(uuid.uuid4()) is None


async def test_an_item_that_cannot_be_standardised_holds_back_no_other(
    intake: IntakeService, kept: MemoryReportStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refusing(report: Report, *args: Any) -> Report:
        if report.external_id == "cannot":
            raise OverflowError("a combination the checks did not foresee")
        return standardise(report, *args)

    monkeypatch.setattr("services.intake.service.standardise", refusing)
    results = await intake.submit(
        [
            submission(a_report(external_id="first")),
            submission(a_report(external_id="cannot")),
            # Built in code, so construction skipped the contract's checks; they apply here.
            submission(a_report(external_id="")),
            submission(a_report(external_id="last")),
        ]
    )
    first, cannot, empty, last = results
    assert isinstance(cannot, ReportProblems)
    assert [(p.path, p.message) for p in cannot.problems] == [
        ("$", "the report cannot be standardised")
    ]
    assert isinstance(empty, ReportProblems)
    assert [p.path for p in empty.problems] == ["$.external_id"]
    assert isinstance(first, Result)
    assert isinstance(last, Result)
    assert (first.outcome, last.outcome) == (Outcome.ACCEPTED, Outcome.ACCEPTED)
    assert set(kept.outbox) == {first.report_id, last.report_id}
    assert kept.calls == 1  # the good ones in one call to the store
