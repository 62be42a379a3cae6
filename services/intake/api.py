"""The intake's HTTP API (Litestar): thin handlers over `IntakeService`.

Bodies are read raw (see `body`) and decoded here, not by Litestar, so that a `422` can name
every problem (see `validation`) and the body can be stored exactly as it came.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import uuid
from http import HTTPStatus
from typing import Any, Literal

import msgspec
from litestar import Controller, HttpMethod, Request, Response, post, route
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_202_ACCEPTED,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from schemas.report import QualityIssue, Report
from services.common.logging import get_logger
from services.intake import batchbody, metrics, store
from services.intake.access import Client, Clients, RateLimiter
from services.intake.adapters import ADAPTERS
from services.intake.body import read_body
from services.intake.ops import Monitor
from services.intake.outbox import BrokerLink
from services.intake.problems import problem
from services.intake.service import (
    CANONICAL,
    IntakeService,
    Submission,
    from_source,
    in_turns,
)
from services.intake.validation import (
    NotJson,
    Problem,
    ReportProblems,
    decode,
)

__all__ = ["problem"]  # ops_api raises its problems through this module too
log = get_logger("api")
_ENCODER = msgspec.json.Encoder()
# What is cheap to read twice answers HEAD too (RFC 9110 section 9.3.2): the same status and
# headers without the body (the server drops it).
GET_AND_HEAD = [HttpMethod.GET, HttpMethod.HEAD]


class Accepted(msgspec.Struct):
    """The answer to an accepted (202) or repeated (200) report."""

    report_id: uuid.UUID
    status: str = "accepted"


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    """Up to `max_batch_items` canonical reports."""

    reports: list[msgspec.Raw]


class ItemResult(msgspec.Struct, omit_defaults=True):
    """The outcome of one batch item: accepted, duplicate, conflict, invalid or forbidden."""

    index: int
    outcome: str
    report_id: uuid.UUID | None = None
    problems: list[Problem] = []
    quality_issues: list[QualityIssue] = []


class BatchOut(msgspec.Struct):
    """One result per item, in order, and how many of each outcome."""

    results: list[ItemResult]
    summary: dict[str, int]


class ReportView(msgspec.Struct):
    """A stored report as its submitter or an operator sees it."""

    report_id: uuid.UUID
    status: store.ReportStatus
    source_format: str
    received_at: dt.datetime
    published_at: dt.datetime | None
    report: msgspec.Raw
    quality_issues: msgspec.Raw
    decision: msgspec.Raw | None
    # Why the router dead-lettered it, while the status is `dead_lettered`.
    dead_letter: store.DeadLetter | None = None


class IntakeState(msgspec.Struct):
    """What the handlers need, built at start-up."""

    service: IntakeService
    clients: Clients
    limiter: RateLimiter
    link: BrokerLink | None
    max_batch_items: int
    monitor: Monitor | None = None


def state_of(request: Request[Any, Any, Any]) -> IntakeState:
    state: IntakeState = request.app.state.intake
    return state


def _authenticate(request: Request[Any, Any, Any]) -> Client:
    state = state_of(request)
    # Several Authorization fields never reach here (http_policy.one_authorization: 400).
    client = state.clients.authenticate(request.headers.get("authorization"))
    if client is None:
        raise problem(
            401,
            "unauthenticated",
            "Not authenticated",
            "send `Authorization: Bearer <api key>`",
            headers={"WWW-Authenticate": 'Bearer realm="fsi-intake"'},
        )
    request.state.fsi_client = client.id  # a refusal after this (403) is logged with the id
    wait = state.limiter.take(client)
    if wait is not None:
        raise problem(
            429,
            "rate-limited",
            "Too many requests",
            f"this client's rate limit is reached; retry in {math.ceil(wait)} s",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return client


def _check_json(request: Request[Any, Any, Any]) -> str:
    media = request.headers.get("content-type", "")
    kind = media.split(";")[0].strip().lower()
    if kind != "application/json" and not (
        kind.startswith("application/") and kind.endswith("+json")
    ):
        # What was sent is not repeated: a header's value is the client's text.
        got = "this Content-Type is not accepted" if kind else "there is no Content-Type"
        raise problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"{got}; send `application/json` (or a type ending in `+json`)",
        )
    return media


def _invalid(problems: list[Problem]) -> ProblemDetailsException:
    return problem(
        422,
        "invalid-report",
        "The report is not valid",
        f"{len(problems)} problem(s) found",
        errors=[msgspec.to_builtins(p) for p in problems],
    )


def _not_json(exc: NotJson) -> ProblemDetailsException:
    return problem(400, "malformed-json", "The body is not JSON", str(exc))


def _require_format(client: Client, name: str) -> None:
    if not client.may_use_format(name):
        raise problem(
            403,
            "forbidden-format",
            "Format not allowed",
            f"this client may not send `{name}` reports",
        )


def _forbidden_source(source: str) -> ProblemDetailsException:
    return problem(
        403,
        "forbidden-source",
        "Source not allowed",
        f"this client may not submit for source `{source}`",
    )


async def _decode(
    request: Request[Any, Any, Any], tp: type[Any], limit: int, *, check_repeats: bool = True
) -> tuple[Any, bytes, str]:
    media = _check_json(request)
    body = await read_body(request, limit)
    try:
        value, problems = decode(body, tp, check_repeats=check_repeats)
    except NotJson as exc:
        raise _not_json(exc) from None
    if problems:
        raise _invalid(problems)
    return value, body, media


def _answer(outcome: store.Outcome, report_id: uuid.UUID) -> Response[bytes]:
    if outcome is store.Outcome.CONFLICT:
        raise problem(
            409,
            "conflict",
            "Conflicting report",
            "a different report with this `source` and `external_id` was already accepted",
            report_id=str(report_id),
        )
    status = HTTP_202_ACCEPTED if outcome is store.Outcome.ACCEPTED else HTTP_200_OK
    return Response(
        _ENCODER.encode(Accepted(report_id=report_id)),
        status_code=status,
        media_type="application/json",
        headers={"Location": f"/v1/reports/{report_id}"},
    )


def _outcome(outcome: store.Outcome, quality_issues: list[QualityIssue]) -> str:
    if outcome is store.Outcome.ACCEPTED and quality_issues:
        return "soft_flagged"
    return outcome.value


def _count(request: Request[Any, Any, Any], source: str | None, result: str) -> None:
    request.state.fsi_counted = True
    metrics.report(source, result, state_of(request).clients.named_sources)


def count_refusal(exc: Exception, scope: Any) -> None:
    """A submission that ended in a problem before its outcome was counted: `invalid` for
    a body that could not be read as a report, `refused` for everything else the client
    must change (auth, format, size, media type, rate)."""
    state = scope.get("state", {})
    status = getattr(exc, "status_code", 500)
    if scope.get("method") != "POST" or state.get("fsi_counted") or status >= 500:
        return
    if scope.get("path", "").startswith(("/v1/reports", "/v1/sources/")):
        result = "invalid" if status in {400, 422} else "refused"
        named = scope["app"].state.intake.clients.named_sources
        metrics.report(state.get("fsi_source"), result, named)


async def _submit_one(request: Request[Any, Any, Any], submission: Submission) -> Response[bytes]:
    source = submission.report.source
    request.state.fsi_source = source
    (result,) = await state_of(request).service.submit([submission])
    if isinstance(result, ReportProblems):
        _count(request, source, "invalid")
        raise _invalid(result.problems)
    _count(request, source, _outcome(result.outcome, result.quality_issues))
    log.info(
        "report submitted",
        report_id=str(result.report_id),
        outcome=result.outcome.value,
        source_format=submission.source_format,
        quality_issues=[q.code for q in result.quality_issues],
    )
    return _answer(result.outcome, result.report_id)


class ReportsController(Controller):
    """Canonical reports: submit one, submit a batch, read one back."""

    path = "/v1/reports"
    tags = ("reports",)

    @post(
        "/",
        status_code=HTTP_202_ACCEPTED,
        summary="Submit one report in the canonical contract",
    )
    async def submit(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        client = _authenticate(request)
        _require_format(client, CANONICAL)
        report, body, media = await _decode(request, Report, request.app.state.max_body_bytes)
        if not client.may_submit(report.source):
            raise _forbidden_source(report.source)
        return await _submit_one(request, Submission(client.id, report, body, media))

    @post(
        "/batch",
        status_code=HTTP_200_OK,
        summary="Submit up to 1,000 canonical reports",
        # Not Litestar's limit (the app's, FSI_HTTP_MAX_BODY_BYTES) but the batch limit,
        # FSI_HTTP_MAX_BATCH_BODY_BYTES, a setting: `read_body` enforces it as it reads.
        request_max_body_size=None,
    )
    async def submit_batch(self, request: Request[Any, Any, Any]) -> BatchOut:
        client = _authenticate(request)
        _require_format(client, CANONICAL)
        media = _check_json(request)
        body = await read_body(request, request.app.state.max_batch_body_bytes)
        state = state_of(request)
        # Splitting is one pass (about 4 ms a MiB): a body larger than one report may be is
        # split off the event loop, so the other requests do not wait for it.
        if len(body) > request.app.state.max_body_bytes:
            items = await asyncio.to_thread(_batch_items, body, state.max_batch_items)
        else:
            items = _batch_items(body, state.max_batch_items)
        _charge(state, client, len(items))
        return await _run_batch(state, client, items, media, request.app.state.max_body_bytes)

    @route(
        "/{report_id:uuid}",
        http_method=GET_AND_HEAD,
        summary="Read a report back: status, standardised form, decision",
    )
    async def read(
        self, request: Request[Any, Any, Any], report_id: FromPath[uuid.UUID]
    ) -> ReportView:
        client = _authenticate(request)
        row = await store.get_report(state_of(request).service.pool, report_id)
        if row is None or not (client.is_operator or row.client_id == client.id):
            # Another client's report is indistinguishable from a missing one.
            raise problem(
                404, "not-found", "No such report", "no report with this id for this client"
            )
        return ReportView(
            report_id=row.id,
            status=row.status,
            source_format=row.source_format,
            received_at=row.received_at,
            published_at=row.published_at,
            report=msgspec.Raw(row.report_json.encode()),
            quality_issues=msgspec.Raw(row.quality_issues_json.encode()),
            decision=msgspec.Raw(row.decision_json.encode()) if row.decision_json else None,
            dead_letter=row.dead_letter,
        )


def _batch_items(body: bytes, max_items: int) -> list[bytes]:
    """The items of a batch body, counted before any is decoded (see `batchbody`)."""
    try:
        return batchbody.items(body, max_items)
    except NotJson as exc:
        raise _not_json(exc) from None
    except batchbody.BatchProblems as exc:
        raise _invalid(exc.problems) from None
    except batchbody.TooManyItems:
        raise problem(
            413,
            "batch-too-large",
            "Too many reports in one batch",
            f"at most {max_items} reports per batch",
        ) from None


def _charge(state: IntakeState, client: Client, count: int) -> None:
    """A batch costs one token of the client's rate per item; the first was taken when the
    request came in. A batch larger than the client's burst goes through only from a full
    bucket and leaves it owing the rest, so the client's average stays its rate."""
    wait = state.limiter.take(client, count - 1, paid=1)
    if wait is not None:
        raise problem(
            429,
            "rate-limited",
            "Too many requests",
            f"a batch costs one of this client's rate per report ({count} here); "
            f"retry in {math.ceil(wait)} s",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


def _decode_item(
    index: int, body: bytes, client: Client, media: str, max_bytes: int
) -> ItemResult | Submission:
    """One batch item decoded: its result when it is refused, else what to submit."""
    if len(body) > max_bytes:
        # Alone it would be a 413: here it is refused without being decoded.
        problems = [Problem("$", f"larger than one report may be ({max_bytes} bytes)")]
        return ItemResult(index, "invalid", problems=problems)
    try:
        report, problems = decode(body, Report)
    except NotJson as exc:
        report, problems = None, [Problem("$", f"not JSON: {exc}")]
    if report is None:
        return ItemResult(index, "invalid", problems=problems)
    if not client.may_submit(report.source):
        return ItemResult(index, "forbidden", problems=[Problem("$.source", "source not allowed")])
    return Submission(client.id, report, body, media)


async def _run_batch(
    state: IntakeState, client: Client, items: list[bytes], media: str, max_bytes: int
) -> BatchOut:
    results: list[ItemResult | None] = [None] * len(items)
    pending: list[tuple[int, Submission]] = []
    # Decoding a thousand items is CPU work: in turns, as standardising them is.
    decoded = await in_turns(
        list(enumerate(items)), lambda x: _decode_item(x[0], x[1], client, media, max_bytes)
    )
    for index, item in enumerate(decoded):
        if isinstance(item, Submission):
            pending.append((index, item))
            continue
        results[index] = item
        metrics.report(None, "invalid" if item.outcome == "invalid" else "refused")
    stored = await state.service.submit([s for _, s in pending])
    for (index, submission), result in zip(pending, stored, strict=True):
        if isinstance(result, ReportProblems):
            results[index] = ItemResult(index, "invalid", problems=result.problems)
            metrics.report(submission.report.source, "invalid", state.clients.named_sources)
            continue
        outcome = _outcome(result.outcome, result.quality_issues)
        metrics.report(submission.report.source, outcome, state.clients.named_sources)
        results[index] = ItemResult(
            index,
            result.outcome.value,
            report_id=result.report_id,
            quality_issues=result.quality_issues,
        )
    final = [r for r in results if r is not None]
    summary: dict[str, int] = {}
    for r in final:
        summary[r.outcome] = summary.get(r.outcome, 0) + 1
    log.info("batch submitted", items=len(final), **{f"n_{k}": v for k, v in summary.items()})
    return BatchOut(results=final, summary=summary)


class SourcesController(Controller):
    """Reports in an upstream system's own format, standardised on the way in."""

    path = "/v1/sources"
    tags = ("sources",)

    @post(
        "/{format_name:str}/reports",
        status_code=HTTP_202_ACCEPTED,
        summary="Submit one report in a source format (citizen, patrol, agency)",
    )
    async def submit(
        self, request: Request[Any, Any, Any], format_name: FromPath[str]
    ) -> Response[bytes]:
        client = _authenticate(request)
        adapter = ADAPTERS.get(format_name)
        if adapter is None:
            raise problem(
                404,
                "unknown-format",
                "Unknown source format",
                f"formats: {', '.join(sorted(ADAPTERS))}",
            )
        _require_format(client, format_name)
        limit = request.app.state.max_body_bytes
        parsed, body, media = await _decode(request, adapter.struct, limit)
        try:
            report = from_source(adapter, parsed, state_of(request).service.reference)
        except ReportProblems as exc:
            raise _invalid(exc.problems) from None
        if not client.may_submit(report.source):
            raise _forbidden_source(report.source)
        return await _submit_one(request, Submission(client.id, report, body, media, format_name))


class Health(msgspec.Struct):
    """Readiness: the database decides; the broker is reported beside it (`up`, `down`,
    `mismatch`: reachable but holding a queue or exchange of ours with other arguments, or
    `disabled` without a relay), with why it is not up (no credentials, no report data)."""

    status: str
    database: str
    broker: Literal["up", "down", "mismatch", "disabled"]
    broker_problem: str | None = None


@route("/healthz", http_method=GET_AND_HEAD, tags=["health"], summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@route(
    "/readyz", http_method=GET_AND_HEAD, tags=["health"], summary="Ready when the database answers"
)
async def readyz(request: Request[Any, Any, Any]) -> Response[Health]:
    state = state_of(request)
    try:
        database_up = await asyncio.wait_for(store.ping(state.service.pool), 2)
    except Exception:
        database_up = False
    link = state.link
    # Accepting never needs the broker (reports wait in the outbox), so it never decides
    # readiness; what it is and why is shown beside.
    health = Health(
        status="ready" if database_up else "not ready",
        database="up" if database_up else "down",
        broker="disabled" if link is None else link.state,
        broker_problem=None if link is None else link.problem,
    )
    return Response(
        health, status_code=HTTP_200_OK if database_up else HTTP_503_SERVICE_UNAVAILABLE
    )


def database_unavailable(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    """PostgreSQL cannot be reached: the client sends the same request again (a report
    that was stored after all is answered as a repeat)."""
    log.warning("database unavailable", path=request.url.path, error=type(exc).__name__)
    return problem(
        HTTP_503_SERVICE_UNAVAILABLE,
        "database-unavailable",
        "Database unavailable",
        "send the same request again later; a report already stored is recognised",
        headers={"Retry-After": "5"},
    ).to_response(request)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    """Litestar's own refusals (no such route, a method not allowed, a body past the server's
    limit, an unreadable form) as problems like every other, with a type and what is wrong."""
    status = exc.status_code
    # The path is not echoed: a client may have put personal data in it.
    if status == 404:
        detail = "no such path, or a path parameter of the wrong form; the API is at /schema"
    elif status == 405:
        allowed = (exc.headers or {}).get("allow", "")
        detail = f"`{request.method}` is not allowed on this path (allowed: {allowed})"
    else:
        detail = exc.detail
    extra = exc.extra if isinstance(exc.extra, dict) else {"extra": exc.extra} if exc.extra else {}
    return ProblemDetailsException(
        status_code=status,
        type_="about:blank",
        title=HTTPStatus(status).phrase,
        detail=detail,
        headers=exc.headers,
        extra=extra or None,
    ).to_response(request)


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Anything unforeseen: logged without its message, answered without details."""
    log.error("unhandled error", path=request.url.path, exc_info=exc)
    return problem(
        500, "internal", "Internal error", "an unexpected error occurred and was logged"
    ).to_response(request)
