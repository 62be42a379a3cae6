"""A batch of canonical reports as one use case: its items counted before any is decoded,
the client's rate charged a token per report, each item decoded and submitted on its own,
one result per item in order (no HTTP here: refusals are the exceptions in `REFUSALS`)."""

from __future__ import annotations

import asyncio
import uuid

import msgspec

from schemas.report import QualityIssue, Report
from services.common.logging import get_logger
from services.intake import batchbody, metrics
from services.intake.access import Client, RateLimiter
from services.intake.batchbody import BatchProblems, TooManyItems
from services.intake.records import Outcome
from services.intake.service import Submission, in_turns
from services.intake.state import HttpLimits, IntakeState
from services.intake.validation import NotJson, Problem, ReportProblems, decode

log = get_logger("api")


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


class RateOwed(Exception):
    """The client's rate cannot pay for a batch of `count` reports for `wait` seconds."""

    def __init__(self, wait: float, count: int) -> None:
        super().__init__(f"{count} reports; retry in {wait:.1f} s")
        self.wait = wait
        self.count = count


# Why a whole batch is refused: its body is not JSON, not `{"reports": [...]}`, holds more
# items than the limit, or costs more than the client's rate has.
REFUSALS = (NotJson, BatchProblems, TooManyItems, RateOwed)
Refusal = NotJson | BatchProblems | TooManyItems | RateOwed


def counted_as(outcome: Outcome, quality_issues: list[QualityIssue]) -> str:
    """The result a report's outcome is counted under (`soft_flagged`: accepted with quality
    issues, which send it to triage)."""
    if outcome is Outcome.ACCEPTED and quality_issues:
        return "soft_flagged"
    return outcome.value


async def submit_batch(
    state: IntakeState, client: Client, body: bytes, media: str, limits: HttpLimits
) -> BatchOut:
    """Every item of a batch body (`media` its Content-Type) submitted for `client`, with
    one result each; raises one of `REFUSALS` when the batch as a whole is refused."""
    # Splitting is one pass (about 4 ms a MiB): a body larger than one report may be is
    # split off the event loop, so the other requests do not wait for it.
    if len(body) > limits.max_body_bytes:
        items = await asyncio.to_thread(batchbody.items, body, limits.max_batch_items)
    else:
        items = batchbody.items(body, limits.max_batch_items)
    charge(state.limiter, client, len(items))
    return await _run(state, client, items, media, limits.max_body_bytes)


def charge(limiter: RateLimiter, client: Client, count: int) -> None:
    """A batch costs one token of the client's rate per item; the first was taken when the
    request came in. A batch larger than the client's burst goes through only from a full
    bucket and leaves it owing the rest, so the client's average stays its rate. `RateOwed`
    when the bucket cannot pay now."""
    wait = limiter.take(client, count - 1, paid=1)
    if wait is not None:
        raise RateOwed(wait, count)


def decode_item(
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


async def _run(
    state: IntakeState, client: Client, items: list[bytes], media: str, max_bytes: int
) -> BatchOut:
    results: list[ItemResult | None] = [None] * len(items)
    pending: list[tuple[int, Submission]] = []
    # Decoding a thousand items is CPU work: in turns, as standardising them is.
    decoded = await in_turns(
        list(enumerate(items)), lambda x: decode_item(x[0], x[1], client, media, max_bytes)
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
        outcome = counted_as(result.outcome, result.quality_issues)
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
