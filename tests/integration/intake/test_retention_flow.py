"""Erasure after closure end to end: a machine client's report with persons, corrected and
routed by a person on the workbench, confirmed by its unit's queue, received and closed by
the unit; past the period the job leaves none of its personal data in any table, and the
report still reads (200, saying its erasure) while its workbench page says it was erased."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from services.intake import retention
from tests.integration.conftest import unique
from tests.integration.intake.retention_support import (
    NEEDLES,
    REASON,
    close,
    found_anywhere,
    personal_report,
)
from tests.integration.intake.triage_support import pages
from tests.integration.stack import Stack
from tests.integration.triage.flows import as_person, claim, deliveries, read, waiting
from tests.support import signin
from tests.support.clients import auth

pytestmark = pytest.mark.integration

__all__ = ["pages"]  # fixture


async def routed_by_a_person(stack: Stack) -> tuple[str, str]:
    """A report with persons the rules triage (an offence the Penal Code does not have),
    corrected by anne with a reason and so routed to its unit, whose queue confirmed it:
    its id and the unit."""
    body = personal_report(unique("erase"))
    body.pop("quality_issues")
    body.update(source="alpha-src", offences=[{"code": "strl-9999"}])
    posted = await stack.intake.post("/v1/reports", json=body, headers=auth("alpha"))
    assert posted.status_code == 202, posted.text
    report_id = str(posted.json()["report_id"])
    await waiting(stack, report_id)
    token = await claim(stack, "anne", report_id)
    change = {"claim": token, "changes": {"offences": ["strl-321"]}, "reason": REASON}
    done = await as_person(stack, "anne", "POST", f"/v1/triage/{report_id}/correct", change)
    assert done.status_code == 200, done.text
    assert await deliveries(stack, done.json()["act_id"]) == 1
    return report_id, str(done.json()["case"]["unit"])


async def test_a_closed_report_past_the_period_is_erased_and_still_reads(
    stack: Stack,
    owner: asyncpg.Connection,
    retention_database_url: str,
    pages: AsyncTestClient[Any],
) -> None:
    report_id, unit = await routed_by_a_person(stack)
    await close(owner, uuid.UUID(report_id), unit, days_ago=0)
    before = {table for table, _ in await found_anywhere(owner, NEEDLES)}
    assert {"reports", "report_versions", "person_acts", "person_decisions"} <= before

    job = await asyncpg.connect(retention_database_url)
    try:
        now = dt.datetime.now(dt.UTC)
        within = await retention.run(job, 30, 10, False, now=now + dt.timedelta(days=29))
        assert within.reports == 0
        past = await retention.run(job, 30, 10, False, now=now + dt.timedelta(days=31))
        assert past.reports == 1
    finally:
        await job.close()
    assert await found_anywhere(owner, NEEDLES) == set()

    for who in (None, "anne"):
        seen = await read(stack, report_id, who)
        assert seen["report"] == {}
        assert seen["erasure"]["kept_days"] == 30
        assert "reports.raw_body" in seen["erasure"]["erased"]
        # The history stays, without the reason.
        corrected = next(e for e in seen["history"] if e["event"] == "corrected")
        assert corrected["reason"] is None
        assert seen["decision"]["unit"] == unit

    answer = await signin.sign_in(pages, "triage", "anne")
    assert answer.status_code == 303, answer.text
    page = await pages.get(f"/triage/{report_id}")
    assert page.status_code == 410, page.text[:300]
    assert "its personal data was erased on" in page.text
    assert not any(n in page.text for n in NEEDLES)
