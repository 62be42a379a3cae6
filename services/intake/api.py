"""The intake's HTTP API (Litestar): thin handlers over `IntakeService` and `batch`.

Bodies are read raw (see `body`, `requestbody`) and decoded by the handlers, not by Litestar,
so that a `422` can name every problem (see `validation`) and the body can be stored exactly
as it came. Who may call each route is its guard's to say (`guards`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, HttpMethod, Request, Response, post, route
from litestar.params import FromPath
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from schemas.report import Report
from services.common.logging import get_logger
from services.intake import batch, batchbody, metrics, problems, records, timeline
from services.intake.access import Client
from services.intake.adapters import ADAPTERS
from services.intake.body import read_body
from services.intake.cases.view import CaseView, case_views
from services.intake.guards import (
    CLIENT,
    FORMAT,
    READER,
    Caller,
    Reader,
    requires_client_or_person,
    requires_submitter,
)
from services.intake.people import Person
from services.intake.requestbody import check_json, decode_body
from services.intake.service import CANONICAL, Submission, from_source
from services.intake.state import limits_of, state_of
from services.intake.validation import ReportProblems

log = get_logger("api")
_ENCODER = msgspec.json.Encoder()
# What is cheap to read twice answers HEAD too (RFC 9110 section 9.3.2): the same status and
# headers without the body (the server drops it).
GET_AND_HEAD = [HttpMethod.GET, HttpMethod.HEAD]


class Accepted(msgspec.Struct):
    """The answer to an accepted (202) or repeated (200) report."""

    report_id: uuid.UUID
    status: str = "accepted"


class ReportView(msgspec.Struct):
    """A stored report as its submitter, an operator or a person of the intake sees it: the
    current version's report (`versions` lists every version, 1 as accepted), the latest
    decision, its history (for a machine client without subject ids and reasons), and the
    cases units hold or held of it (`cases`: state, deadline).
    Once its personal data was erased after closure, `erasure` says when and what, the
    report reads `{}` and the quality issues code and path only."""

    report_id: uuid.UUID
    status: records.ReportStatus
    source_format: str
    received_at: dt.datetime
    published_at: dt.datetime | None
    report: msgspec.Raw
    quality_issues: msgspec.Raw
    decision: msgspec.Raw | None
    version: int
    versions: list[int]
    history: list[timeline.HistoryEvent]
    # Why the router dead-lettered it, while the status is `dead_lettered`.
    dead_letter: records.DeadLetter | None = None
    # When its personal data was erased after closure (fsi-retention), and what.
    erasure: records.Erasure | None = None
    # The cases units hold or held of it: each one's state and deadline at the read.
    cases: list[CaseView] = []


def may_read(reader: Client | Person, row: records.ReportRow) -> bool:
    """Whether `reader` may see this report: a client its own (an operator every one); a
    person of the intake a report of a district they may see (`Person.may_see`), and one
    with nothing yet to place it (no work item, no decision) only with a national role."""
    if isinstance(reader, Person):
        return reader.may_see(row.district) if row.placed else reader.national
    return reader.is_operator or row.client_id == reader.id


# Who decided, in a person's decision, that a machine client does not see: the person's
# subject id and their reason (free text).
_PERSONAL = ("subject", "reason")


def _decision(row: records.ReportRow, full: bool) -> msgspec.Raw | None:
    if row.decision_json is None:
        return None
    if full or not row.person_decided:
        return msgspec.Raw(row.decision_json.encode())
    decision = msgspec.json.decode(row.decision_json)
    decided_by = decision.get("decided_by") or {}
    for key in _PERSONAL:
        decided_by.pop(key, None)
    return msgspec.Raw(_ENCODER.encode(decision))


def report_view(row: records.ReportRow, full: bool) -> ReportView:
    """The view of a stored report: `full` for a person of the intake, else (a machine
    client) who acted by kind and role only and no reason texts (`timeline.event_of`)."""
    return ReportView(
        report_id=row.id,
        status=row.status,
        source_format=row.source_format,
        received_at=row.received_at,
        published_at=row.published_at,
        report=msgspec.Raw(row.report_json.encode()),
        quality_issues=msgspec.Raw(row.quality_issues_json.encode()),
        decision=_decision(row, full),
        version=row.version,
        versions=list(range(1, row.version + 1)),
        history=timeline.assemble(row.history, full=full),
        dead_letter=row.dead_letter,
        erasure=row.erasure,
        cases=case_views(row.cases, dt.datetime.now(dt.UTC)),
    )


def _answer(outcome: records.Outcome, report_id: uuid.UUID) -> Response[bytes]:
    if outcome is records.Outcome.CONFLICT:
        raise problems.problem(
            409,
            "conflict",
            "Conflicting report",
            "a different report with this `source` and `external_id` was already accepted",
            report_id=str(report_id),
        )
    status = HTTP_202_ACCEPTED if outcome is records.Outcome.ACCEPTED else HTTP_200_OK
    return Response(
        _ENCODER.encode(Accepted(report_id=report_id)),
        status_code=status,
        media_type="application/json",
        headers={"Location": f"/v1/reports/{report_id}"},
    )


def _count(request: Request[Any, Any, Any], source: str | None, result: str) -> None:
    request.state.fsi_counted = True
    metrics.report(source, result, state_of(request).clients.named_sources)


async def _submit_one(
    request: Request[Any, Any, Any], client: Client, submission: Submission
) -> Response[bytes]:
    source = submission.report.source
    if not client.may_submit(source):
        raise problems.forbidden_source(source)
    request.state.fsi_source = source
    (result,) = await state_of(request).service.submit([submission])
    if isinstance(result, ReportProblems):
        _count(request, source, "invalid")
        raise problems.invalid(result.problems)
    _count(request, source, batch.counted_as(result.outcome, result.quality_issues))
    log.info(
        "report submitted",
        report_id=str(result.report_id),
        outcome=result.outcome.value,
        source_format=submission.source_format,
        quality_issues=[q.code for q in result.quality_issues],
    )
    return _answer(result.outcome, result.report_id)


def _refused(exc: batch.Refusal, max_items: int) -> ProblemDetailsException:
    """The problem of a batch refused as a whole (one of `batch.REFUSALS`)."""
    if isinstance(exc, batch.RateOwed):
        why = f"a batch costs one of this client's rate per report ({exc.count} here)"
        return problems.rate_limited(exc.wait, why)
    if isinstance(exc, batchbody.TooManyItems):
        return problems.batch_too_large(max_items)
    if isinstance(exc, batchbody.BatchProblems):
        return problems.invalid(exc.problems)
    return problems.not_json(exc)


class ReportsController(Controller):
    """Canonical reports: submit one, submit a batch, read one back."""

    path = "/v1/reports"
    tags = ("reports",)
    dependencies = CLIENT

    @post(
        "/",
        status_code=HTTP_202_ACCEPTED,
        summary="Submit one report in the canonical contract",
        guards=[requires_submitter],
        opt={FORMAT: CANONICAL},
    )
    async def submit(self, request: Request[Any, Any, Any], client: Caller) -> Response[bytes]:
        limit = limits_of(request).max_body_bytes
        report, body, media = await decode_body(request, Report, limit)
        return await _submit_one(request, client, Submission(client.id, report, body, media))

    @post(
        "/batch",
        status_code=HTTP_200_OK,
        summary="Submit up to 1,000 canonical reports",
        guards=[requires_submitter],
        opt={FORMAT: CANONICAL},
        # Not Litestar's limit (the app's, FSI_HTTP_MAX_BODY_BYTES) but the batch limit,
        # FSI_HTTP_MAX_BATCH_BODY_BYTES, a setting: `read_body` enforces it as it reads.
        request_max_body_size=None,
    )
    async def submit_batch(self, request: Request[Any, Any, Any], client: Caller) -> batch.BatchOut:
        limits = limits_of(request)
        media = check_json(request)
        body = await read_body(request, limits.max_batch_body_bytes)
        try:
            return await batch.submit_batch(state_of(request), client, body, media, limits)
        except batch.REFUSALS as exc:
            raise _refused(exc, limits.max_batch_items) from None

    @route(
        "/{report_id:uuid}",
        http_method=GET_AND_HEAD,
        summary="Read a report back: status, current version, decision, history",
        guards=[requires_client_or_person],
        dependencies=READER,
    )
    async def read(
        self,
        request: Request[Any, Any, Any],
        reader: Reader,
        report_id: FromPath[uuid.UUID],
    ) -> ReportView:
        row = await state_of(request).service.store.get_report(report_id)
        if row is None or not may_read(reader.who, row):
            # A report the caller may not see is indistinguishable from a missing one.
            raise problems.problem(
                404, "not-found", "No such report", "no report with this id for this caller"
            )
        return report_view(row, full=isinstance(reader.who, Person))


class SourcesController(Controller):
    """Reports in an upstream system's own format, standardised on the way in."""

    path = "/v1/sources"
    tags = ("sources",)
    dependencies = CLIENT

    @post(
        "/{format_name:str}/reports",
        status_code=HTTP_202_ACCEPTED,
        summary="Submit one report in a source format (citizen, patrol, agency)",
        guards=[requires_submitter],
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        client: Caller,
        format_name: FromPath[str],
    ) -> Response[bytes]:
        adapter = ADAPTERS.get(format_name)
        if adapter is None:
            raise problems.problem(
                404,
                "unknown-format",
                "Unknown source format",
                f"formats: {', '.join(sorted(ADAPTERS))}",
            )
        limit = limits_of(request).max_body_bytes
        parsed, body, media = await decode_body(request, adapter.struct, limit)
        try:
            report = from_source(adapter, parsed, state_of(request).service.reference)
        except ReportProblems as exc:
            raise problems.invalid(exc.problems) from None
        submission = Submission(client.id, report, body, media, format_name)
        return await _submit_one(request, client, submission)
