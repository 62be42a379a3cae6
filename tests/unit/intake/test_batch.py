"""The batch use case without HTTP: items counted, the rate charged per report, each item
decoded and submitted on its own, one result per item in order, over the in-memory store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas import reference
from schemas.report import QualityIssue
from services.common.standardise import Options
from services.intake import batch
from services.intake.access import Client, Clients, RateLimiter
from services.intake.batchbody import BatchProblems, TooManyItems
from services.intake.records import Outcome
from services.intake.service import IntakeService
from services.intake.state import HttpLimits, IntakeState
from services.intake.validation import NotJson, Problem
from tests.unit.intake.fakes import MemoryReportStore

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "report.youth-robbery.json"
CLIENT = Client(id="c", key_sha256="0" * 64, sources=frozenset({"patrulje"}))
LIMITS = HttpLimits(
    max_body_bytes=8192, max_batch_body_bytes=65536, max_batch_items=4, body_timeout_seconds=1
)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def item(**changes: Any) -> bytes:
    report = json.loads(EXAMPLE.read_bytes())
    return json.dumps(report | changes).encode()


def body(*items: bytes) -> bytes:
    return b'{"reports": [' + b", ".join(items) + b"]}"


@pytest.fixture
def kept() -> MemoryReportStore:
    return MemoryReportStore()


@pytest.fixture
def state(kept: MemoryReportStore) -> IntakeState:
    service = IntakeService(kept, reference.load(), Options())
    limiter = RateLimiter(rate=1, burst=10, clock=Clock())
    return IntakeState(service=service, clients=Clients({}), limiter=limiter, link=None)


async def test_every_item_has_its_result_in_order(state: IntakeState) -> None:
    items = [
        item(external_id="one"),
        b'{"external_id": 5}',
        item(external_id="two", source="elsewhere"),
        item(external_id="one"),
    ]
    state.limiter.take(CLIENT)  # the first token, taken when the request came in
    out = await batch.submit_batch(state, CLIENT, body(*items), "application/json", LIMITS)
    assert [(r.index, r.outcome) for r in out.results] == [
        (0, "accepted"),
        (1, "invalid"),
        (2, "forbidden"),
        (3, "duplicate"),
    ]
    assert out.results[0].report_id == out.results[3].report_id is not None
    assert out.results[2].problems == [Problem("$.source", "source not allowed")]
    assert out.summary == {"accepted": 1, "invalid": 1, "forbidden": 1, "duplicate": 1}


async def test_an_item_larger_than_one_report_is_refused_undecoded(state: IntakeState) -> None:
    large = item(external_id="x" * 10, description="y" * 9000)
    out = await batch.submit_batch(state, CLIENT, body(large), "application/json", LIMITS)
    (result,) = out.results
    assert (result.outcome, result.problems) == (
        "invalid",
        [Problem("$", "larger than one report may be (8192 bytes)")],
    )


@pytest.mark.parametrize(
    ("sent", "refusal"),
    [
        (b'{"reports": [1, 2', NotJson),
        (b'{"reports": []}', BatchProblems),
        (body(*[b"{}"] * 5), TooManyItems),
    ],
)
async def test_a_batch_refused_as_a_whole_submits_nothing(
    state: IntakeState, kept: MemoryReportStore, sent: bytes, refusal: type[Exception]
) -> None:
    with pytest.raises(refusal):
        await batch.submit_batch(state, CLIENT, sent, "application/json", LIMITS)
    assert kept.calls == 0


async def test_a_batch_costs_a_token_per_report(
    state: IntakeState, kept: MemoryReportStore
) -> None:
    for _ in range(8):
        assert state.limiter.take(CLIENT) is None  # 2 of 10 left
    state.limiter.take(CLIENT)  # the batch's first: 1 left, and a retry pays it again
    items = [item(external_id=str(n)) for n in range(3)]
    with pytest.raises(batch.RateOwed) as owed:
        await batch.submit_batch(state, CLIENT, body(*items), "application/json", LIMITS)
    assert owed.value.count == 3
    assert owed.value.wait == pytest.approx(2.0)
    assert kept.calls == 0


def test_an_accepted_report_with_quality_issues_is_counted_as_soft_flagged() -> None:
    issues = [QualityIssue("code", "$.incident", "message")]
    assert batch.counted_as(Outcome.ACCEPTED, issues) == "soft_flagged"
    assert batch.counted_as(Outcome.ACCEPTED, []) == "accepted"
    assert batch.counted_as(Outcome.DUPLICATE, issues) == "duplicate"
