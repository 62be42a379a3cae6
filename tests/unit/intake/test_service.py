"""The intake's use case, without I/O: the rows and message prepared for one submission."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import msgspec

from schemas import reference
from schemas.envelope import ReportAccepted
from schemas.report import Report
from services.common.standardise import Options
from services.intake.service import CANONICAL, IntakeService, Submission, content_hash
from tests.unit.intake.fakes import MemoryReportStore

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "report.youth-robbery.json"
RECEIVED = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def service() -> IntakeService:
    return IntakeService(store=MemoryReportStore(), reference=reference.load(), options=Options())


def test_outbox_payload_is_a_report_accepted_envelope() -> None:
    report = msgspec.json.decode(EXAMPLE.read_bytes(), type=Report)
    row, standard = service().prepare(Submission("c", report, b"{}", "application/json"), RECEIVED)
    envelope = msgspec.json.decode(row.payload, type=ReportAccepted)
    assert envelope.report_id == row.id
    assert envelope.report == standard
    assert envelope.accepted_at == RECEIVED
    assert envelope.source_format == CANONICAL
    assert msgspec.json.decode(row.report_json, type=Report) == standard
    assert (row.source, row.external_id) == (report.source, report.external_id)


def test_content_hash_ignores_spelling_but_not_content() -> None:
    body = json.loads(EXAMPLE.read_text("utf-8"))
    respelled = json.dumps(dict(reversed(list(body.items()))), indent=3).encode()
    changed = dict(body, external_id=body["external_id"] + "x")
    same = [msgspec.json.decode(b, type=Report) for b in (EXAMPLE.read_bytes(), respelled)]
    other = msgspec.convert(changed, Report)
    assert content_hash(same[0]) == content_hash(same[1])
    assert content_hash(same[0]) != content_hash(other)
