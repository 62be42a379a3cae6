"""The intake's use cases, between the HTTP edge and the store: check, standardise, persist."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

import asyncpg
import msgspec

from schemas.envelope import REPORT_ACCEPTED_TYPE
from schemas.reference import Reference
from schemas.report import QualityIssue, Report
from services.common.topology import REPORT_ACCEPTED_KEY
from services.intake import store
from services.intake.adapters import Adapter, AdapterError
from services.intake.standardise import Options, standardise
from services.intake.validation import Problem, walk

CANONICAL = "canonical"
_encoder = msgspec.json.Encoder(order="sorted")
_plain = msgspec.json.Encoder()


class _AcceptedWire(msgspec.Struct):
    """`ReportAccepted` as written: the report spliced in already encoded, not encoded twice."""

    report_id: uuid.UUID
    accepted_at: dt.datetime
    source_format: str
    report: msgspec.Raw


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

    outcome: store.Outcome
    report_id: uuid.UUID
    quality_issues: list[QualityIssue]


def content_hash(report: Report) -> bytes:
    """Identity of a report's content: equal for the same report however it was spelled."""
    return hashlib.sha256(_encoder.encode(report)).digest()


def from_source(adapter: Adapter, parsed: msgspec.Struct, reference: Reference) -> Report:
    """A source report converted and checked against the canonical contract."""
    try:
        report = adapter.convert(parsed, reference)
    except ValueError as exc:
        if isinstance(exc, AdapterError):
            raise
        raise AdapterError([Problem("$", str(exc))]) from None
    # Structs built in code skip constraint checks; a round trip applies them.
    builtins = msgspec.to_builtins(report)
    try:
        return msgspec.convert(builtins, Report)
    except msgspec.ValidationError:
        raise AdapterError(
            [
                Problem(p.path, f"{p.message} (in the canonical report)")
                for p in walk(builtins, Report)
            ]
        ) from None


@dataclass(frozen=True, slots=True)
class IntakeService:
    """Accepts reports: standardise, store with an outbox row, answer with the outcome."""

    pool: asyncpg.Pool
    reference: Reference
    options: Options

    def prepare(self, submission: Submission, now: dt.datetime) -> tuple[store.NewReport, Report]:
        """The rows to write for one submission (pure)."""
        report_id = uuid.uuid4()
        standard = standardise(submission.report, self.reference, now, self.options)
        report_json = _plain.encode(standard)
        message = _AcceptedWire(
            report_id=report_id,
            accepted_at=now,
            source_format=submission.source_format,
            report=msgspec.Raw(report_json),
        )
        row = store.NewReport(
            id=report_id,
            client_id=submission.client_id,
            source=submission.report.source,
            external_id=submission.report.external_id,
            source_format=submission.source_format,
            content_hash=content_hash(submission.report),
            raw_body=submission.raw_body,
            raw_content_type=submission.content_type,
            report_json=report_json.decode(),
            quality_issues_json=_plain.encode(standard.quality_issues).decode(),
            message_type=REPORT_ACCEPTED_TYPE,
            routing_key=REPORT_ACCEPTED_KEY,
            payload=_plain.encode(message),
        )
        return row, standard

    async def submit(self, submissions: list[Submission]) -> list[Result]:
        """Store every submission in one transaction; one result each, in order."""
        now = dt.datetime.now(dt.UTC)
        prepared = [self.prepare(s, now) for s in submissions]
        stored = await store.insert_reports(self.pool, [row for row, _ in prepared])
        return [
            Result(
                s.outcome, s.report_id, standard.quality_issues if s.outcome == "accepted" else []
            )
            for s, (_, standard) in zip(stored, prepared, strict=True)
        ]
