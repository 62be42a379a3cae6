"""Property: any valid canonical report survives post → get with its meaning unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from litestar.testing import AsyncTestClient

from schemas import reference
from schemas.report import Report
from services.common.standardise import standardise
from tests.support.clients import auth
from tests.support.strategies import reports

REF = reference.load()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(report=reports(source="alpha-src"))
async def test_post_then_get_keeps_the_meaning(
    intake: AsyncTestClient[Any], report: Report
) -> None:
    body = msgspec.json.encode(report)
    posted = await intake.post(
        "/v1/reports", content=body, headers={**auth("alpha"), "content-type": "application/json"}
    )
    # Hypothesis may draw the same external_id twice: then it is the same report, or a conflict.
    assert posted.status_code in {202, 200, 409}, posted.text
    if posted.status_code == 409:
        return
    got = await intake.get(posted.headers["location"], headers=auth("alpha"))
    assert got.status_code == 200
    stored = msgspec.convert(got.json()["report"], Report)
    if posted.status_code == 200:
        assert stored.external_id == report.external_id
        return
    expected = standardise(report, REF, dt.datetime.now(dt.UTC))
    assert stored == expected
    # The instants are the sender's, whatever zone they were written in.
    if report.incident.occurred_from.tzinfo is not None:
        assert stored.incident.occurred_from == report.incident.occurred_from
    assert stored.reported_at == report.reported_at or report.reported_at.tzinfo is None
