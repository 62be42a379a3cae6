"""The units' deadline figures in PostgreSQL: hand-made held cases with known answers at the
boundaries (due exactly now, met exactly when due, returned, the 30-day window's edge, not
received after the setting), read as the intake's login; and on the whole stack, a missed
custody deadline in the overview, on the page, in the gauge with moment="arrest", and gone
from it once the unit reports the court hearing."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import pytest

from schemas.caseevents import CaseEvent, CaseEventKind
from services.common.caseevents.figures import UnitDeadlineFigures, deadline_figures
from services.common.caseevents.store import Incoming, apply_events
from tests.integration.ops.test_ops import scrape, value
from tests.integration.stack import Stack, overview_where
from tests.support import held_cases
from tests.support.clients import auth
from tests.support.held_cases import CUSTODY, a_report, deadline

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
HOUR, DAY, SECOND = dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(seconds=1)


async def held(
    conn: asyncpg.Connection,
    unit: str,
    *,
    due: dt.timedelta | None = None,
    moment: str | None = "report",
    met: dt.timedelta | None = None,
    returned: dt.timedelta | None = None,
    closed: dt.timedelta | None = None,
    routed: dt.timedelta = -60 * DAY,
    received: bool = True,
) -> None:
    """A held case of `unit` (times relative to NOW; `met` relative to the due time)."""
    routed_at = NOW + routed
    report_id = await a_report(conn, routed_at)
    due_at = None if due is None else NOW + due
    met_at = None if met is None or due_at is None else due_at + met
    await conn.execute(
        "INSERT INTO unit_cases (case_id, report_id, unit, priority, routed_at, received_at,"
        " returned_at, return_reason, closed_at, outcome, due_at, deadline_moment, met_by,"
        " met_at, met_event) VALUES ($1, $1, $2, 'high', $3, $4, $5, $6, $7, $8, $9, $10,"
        " $11, $12, $13)",
        report_id,
        unit,
        routed_at,
        routed_at + SECOND if received else None,
        None if returned is None else NOW + returned,
        None if returned is None else "wrong_unit",
        None if closed is None else NOW + closed,
        None if closed is None else "dismissed",
        due_at,
        moment if due_at else None,
        CUSTODY if moment == "arrest" else ["prosecution_decision"],
        met_at,
        None if met_at is None else uuid.uuid4(),
    )


async def test_figures_at_the_boundaries(
    owner: asyncpg.Connection, intake_database_url: str
) -> None:
    a, b, c = "unit.a", "unit.b", "unit.c"
    # unit.a
    await held(owner, a, due=dt.timedelta(0), moment="arrest")  # due exactly now: missed
    await held(owner, a, due=SECOND)  # open, due within 24 h
    await held(owner, a, due=DAY)  # open, due within 24 h (the edge)
    await held(owner, a, due=DAY + SECOND)  # open, not within 24 h
    await held(owner, a, due=-HOUR, met=dt.timedelta(0))  # met exactly when due: on time
    await held(owner, a, due=-2 * HOUR, met=SECOND)  # met a second late
    await held(owner, a, due=-3 * HOUR, returned=-4 * HOUR)  # returned before due: not a.'s
    await held(owner, a, due=-4 * HOUR, returned=-HOUR)  # returned after it fell due unmet
    await held(owner, a, due=5 * HOUR, returned=-HOUR)  # returned, not yet due: not open
    await held(owner, a, due=-30 * DAY, met=-DAY)  # the window's edge: out
    await held(owner, a, due=-30 * DAY + SECOND, met=-DAY)  # just inside
    await held(owner, a, due=2 * DAY, met=-HOUR)  # met before due, not yet due: nothing
    # unit.b: closed without the meeting event is still missed; a rule with no moment
    await held(owner, b, due=-2 * DAY, moment="arrest", closed=-DAY)
    await held(owner, b, due=-40 * DAY, moment=None)
    # unit.c: not received after an hour, at the edge; received, returned or closed ones not
    await held(owner, c, routed=-HOUR - SECOND, received=False)
    await held(owner, c, routed=-HOUR, received=False)
    await held(owner, c, routed=-DAY, received=True)
    await held(owner, c, routed=-DAY, received=False, returned=-HOUR)
    await held(owner, c, routed=-DAY, received=False, closed=-HOUR)
    # unit.d: a deadline met long ago: nothing to show
    await held(owner, "unit.d", due=-60 * DAY, met=-DAY)

    login = await asyncpg.connect(intake_database_url)
    try:
        figures = await deadline_figures(login, NOW, HOUR)
    finally:
        await login.close()

    assert figures == [
        UnitDeadlineFigures(
            unit=b,
            missed=2,
            missed_by_moment={"arrest": 1, "none": 1},
            due_last_30_days=1,
            met_on_time_last_30_days=0,
            share_met_on_time=0.0,
        ),
        UnitDeadlineFigures(
            unit=a,
            open=3,
            due_within_24h=2,
            missed=1,
            missed_by_moment={"arrest": 1},
            due_last_30_days=5,
            met_on_time_last_30_days=2,
            share_met_on_time=0.4,
            next_due_at=NOW + SECOND,
        ),
        UnitDeadlineFigures(unit=c, not_received=1),
    ]
    with pytest.raises(ValueError, match="aware"):
        await deadline_figures(owner, NOW.replace(tzinfo=None), HOUR)


UNIT = "oslo.felles-etterforskning"


async def custody_case(database_url: str, due_at: dt.datetime) -> uuid.UUID:
    """A rules' case with a custody deadline, confirmed by `UNIT`'s queue two hours ago (the
    confirmation makes the held case, with its deadline)."""
    conn = await asyncpg.connect(database_url)
    try:
        routed_at = dt.datetime.now(dt.UTC) - 2 * HOUR
        return await held_cases.routed(
            conn, UNIT, routed_at, priority="critical", due=deadline(due_at)
        )
    finally:
        await conn.close()


def missed_here(body: dict[str, Any]) -> int:
    found = [d for d in body["deadlines"] if d["unit"] == UNIT]
    return int(found[0]["missed_by_moment"].get("arrest", 0)) if found else 0


async def test_a_missed_custody_deadline_is_shown_and_gauged_until_met(
    stack: Stack, router_database_url: str
) -> None:
    report_id = await custody_case(stack.database_url, dt.datetime.now(dt.UTC) - HOUR)
    body = await overview_where(
        stack.intake, lambda b: missed_here(b) == 1 and bool(b["districts"])
    )
    (entry,) = [d for d in body["deadlines"] if d["unit"] == UNIT]
    assert (entry["missed"], entry["open"], entry["due_last_30_days"]) == (1, 0, 1)
    assert entry["share_met_on_time"] == 0.0
    totals = body["deadline_totals"]
    assert totals["missed_by_moment"] == {"arrest": 1}
    assert totals["not_received"] == 1  # routed two hours ago, never received
    assert body["not_received_after_seconds"] == 3600
    (unit,) = [u for d in body["districts"] for u in d["units"] if u["unit"] == UNIT]
    assert (unit["missed"], unit["not_received"]) == (1, 1)

    samples = await scrape(stack)
    assert value(samples, "fsi_case_deadlines_missed", unit=UNIT, moment="arrest") == 1
    assert value(samples, "fsi_cases_not_received", unit=UNIT) == 1
    assert value(samples, "fsi_case_deadlines_met_on_time_ratio", unit=UNIT) == 0
    page = await stack.intake.get("/ops", headers=auth("ops"))
    assert 'id="custody-missed"' in page.text
    assert f'data-deadline-unit="{UNIT}" class="bad"' in page.text
    banner = page.text.split('id="custody-missed"', 1)[1].split("</p>", 1)[0]
    assert "Oslo · Felles enhet for etterforskning (1)" in banner
    assert str(report_id)[:8] not in banner  # the unit and a count, never a report

    # The unit reports the court hearing (late) over its door: met late, no longer missed.
    login = await asyncpg.connect(router_database_url)
    try:
        now = dt.datetime.now(dt.UTC)
        heard = CaseEvent(
            event_id=uuid.uuid4(),
            unit=UNIT,
            kind=CaseEventKind.BROUGHT_BEFORE_COURT,
            occurred_at=now - 10 * dt.timedelta(minutes=1),
            report_id=report_id,
        )
        (outcome,) = await apply_events(login, [Incoming(heard, "amqp:unit", "amqp")], now)
        assert outcome.verdict == "applied"
    finally:
        await login.close()
    body = await overview_where(stack.intake, lambda b: missed_here(b) == 0)
    assert body["deadline_totals"]["missed"] == 0
    samples = await scrape(stack)
    assert (
        "fsi_case_deadlines_missed",
        frozenset({"unit": UNIT, "moment": "arrest"}.items()),
    ) not in samples
    page = await stack.intake.get("/ops", headers=auth("ops"))
    assert 'id="custody-missed"' not in page.text
