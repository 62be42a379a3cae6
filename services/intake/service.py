"""The intake's use cases, between the HTTP edge and the store: check, standardise, persist."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import msgspec

from schemas.envelope import REPORT_ACCEPTED_TYPE, ReportAcceptedWire
from schemas.reference import Reference
from schemas.report import QualityIssue, Report
from services.common.standardise import Options, standardise
from services.common.topology import REPORT_ACCEPTED_KEY
from services.intake.adapters import Adapter
from services.intake.records import NewReport, Outcome, ReportRow, Stored
from services.intake.validation import Problem, ReportProblems, walk

CANONICAL = "canonical"
_plain = msgspec.json.Encoder()

T = TypeVar("T")
R = TypeVar("R")

# Items of a batch worked on between two turns of the event loop: about 10 ms of reading or
# standardising, so other requests (and /healthz) wait at most that long behind a batch of
# 1,000. In turns, not in a thread: a thread would contend with the loop for the GIL and
# cost a batch about a tenth of its rate, and would let no other request through sooner.
TURN = 64


async def in_turns(items: Sequence[T], work: Callable[[T], R]) -> list[R]:
    """`work` of each item, in order, the event loop running other tasks after every
    `TURN` items."""
    done: list[R] = []
    for start in range(0, len(items), TURN):
        if start:
            await asyncio.sleep(0)
        done.extend(work(item) for item in items[start : start + TURN])
    return done


@dataclass(frozen=True, slots=True)
class Submission:
    """One report as received: who sent it, in which format, the body as it came."""

    client_id: str
    report: Report
    raw_body: bytes
    content_type: str
    source_format: str = CANONICAL


@dataclass(frozen=True, slots=True)
class Result:
    """What became of one submission."""

    outcome: Outcome
    report_id: uuid.UUID
    quality_issues: list[QualityIssue]


def content_hash(standard: Report) -> bytes:
    """Identity of a standardised report's content, whatever spelling, time zone or derived
    fields it was sent with (quality issues are left out: they depend on the moment; notes
    too: they say how it was spelt, such as a municipality's number before 2024)."""
    return hashlib.sha256(
        # Struct fields encode in a fixed order, so equal reports give equal bytes.
        _plain.encode(msgspec.structs.replace(standard, quality_issues=[], notes=[]))
    ).digest()


def contract_problems(report: Report, context: str) -> list[Problem]:
    """What breaks the contract in a Report built in code (construction skips constraint
    checks; a round trip through builtins applies them). Empty when it is sound."""
    builtins = msgspec.to_builtins(report)
    try:
        msgspec.convert(builtins, Report)
    except msgspec.ValidationError:
        return [Problem(p.path, f"{p.message} ({context})") for p in walk(builtins, Report)]
    return []


def from_source(adapter: Adapter, parsed: msgspec.Struct, reference: Reference) -> Report:
    """A source report converted and checked against the canonical contract."""
    try:
        report = adapter.convert(parsed, reference)
    except ValueError as exc:
        if isinstance(exc, ReportProblems):
            raise
        raise ReportProblems([Problem("$", str(exc))]) from None
    problems = contract_problems(report, "in the canonical report")
    if problems:
        raise ReportProblems(problems)
    return report


class ReportStore(Protocol):
    """Where reports are kept (PostgreSQL in the service: `store.PgReportStore`; a dict in
    the unit tests). Every method raises the store's own errors when it cannot answer."""

    async def insert_reports(self, items: list[NewReport]) -> list[Stored]:
        """Keep each new report with its outbox row, all or none; one `Stored` per item, in
        order. A report whose (source, external_id) is kept already writes nothing: a
        `DUPLICATE` when its content hash is the kept one's, else a `CONFLICT`, either with
        the kept report's id."""
        ...

    async def get_report(self, report_id: uuid.UUID) -> ReportRow | None:
        """The report kept under this id as it now is (its latest version and decision), with
        its status (a person's work first: waiting, claimed, proposed, closed, transferred
        out, a person's case decided or routed; then the rules' case) and the facts of its
        history; None when there is none."""
        ...

    async def ping(self) -> bool:
        """True when the store answers the statements the intake makes."""
        ...


@dataclass(frozen=True, slots=True)
class IntakeService:
    """Accepts reports: standardise, store with an outbox row, answer with the outcome."""

    store: ReportStore
    reference: Reference
    options: Options

    def prepare(self, submission: Submission, now: dt.datetime) -> tuple[NewReport, Report]:
        """The rows to write for one submission (pure)."""
        report_id = uuid.uuid4()
        try:
            standard = standardise(submission.report, self.reference, now, self.options)
        except (ValueError, OverflowError) as exc:
            # A combination the contract's checks did not foresee: named, never a 500.
            raise ReportProblems([Problem("$", "the report cannot be standardised")]) from exc
        problems = contract_problems(standard, "after standardisation")
        if problems:
            raise ReportProblems(problems)
        report_json = _plain.encode(standard)
        message = ReportAcceptedWire(
            report_id=report_id,
            accepted_at=now,
            source_format=submission.source_format,
            report=msgspec.Raw(report_json),
        )
        row = NewReport(
            id=report_id,
            client_id=submission.client_id,
            source=submission.report.source,
            external_id=submission.report.external_id,
            source_format=submission.source_format,
            content_hash=content_hash(standard),
            raw_body=submission.raw_body,
            raw_content_type=submission.content_type,
            report_json=report_json.decode(),
            quality_issues_json=_plain.encode(standard.quality_issues).decode(),
            message_type=REPORT_ACCEPTED_TYPE,
            routing_key=REPORT_ACCEPTED_KEY,
            payload=_plain.encode(message),
        )
        return row, standard

    def _prepare_or_not(
        self, submission: Submission, now: dt.datetime
    ) -> tuple[NewReport, Report] | ReportProblems:
        try:
            return self.prepare(submission, now)
        except ReportProblems as exc:
            return exc

    async def submit(self, submissions: list[Submission]) -> list[Result | ReportProblems]:
        """Store every submission in one call to the store; one result each, in order. A submission
        that cannot be standardised gets its `ReportProblems` and holds back no other."""
        now = dt.datetime.now(dt.UTC)
        # Standardising a batch is CPU work: in turns, so the event loop keeps answering.
        prepared = await in_turns(submissions, lambda s: self._prepare_or_not(s, now))
        good = [p for p in prepared if not isinstance(p, ReportProblems)]
        stored = iter(await self.store.insert_reports([row for row, _ in good]))
        results: list[Result | ReportProblems] = []
        for item in prepared:
            if isinstance(item, ReportProblems):
                results.append(item)
                continue
            done = next(stored)
            issues = item[1].quality_issues if done.outcome is Outcome.ACCEPTED else []
            results.append(Result(done.outcome, done.report_id, issues))
        return results
