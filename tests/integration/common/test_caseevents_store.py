"""Case events applied in PostgreSQL: held cases made by the confirmations, events judged in
order, repeats once, refusals change nothing, a return puts the report back on the work list;
as the services' own logins."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import pytest

from schemas.caseevents import CaseEvent, CaseEventKind, CaseOutcome, ReturnReason
from services.common.caseevents.model import DeadlineState, Refusal
from services.common.caseevents.store import (
    Incoming,
    apply_events,
    case_events_of,
    cases_of,
)
from tests.conftest import as_login
from tests.support import held_cases
from tests.support.held_cases import CUSTODY, a_report, deadline

pytestmark = pytest.mark.integration

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
UNIT = "oslo.felles-straffesaksinntak"


async def routed(owner: asyncpg.Connection, unit: str = UNIT, **more: Any) -> uuid.UUID:
    """A case `unit` holds, routed two hours before NOW."""
    return await held_cases.routed(owner, unit, NOW - dt.timedelta(hours=2), **more)


def event(
    report_id: uuid.UUID,
    kind: CaseEventKind,
    at: dt.datetime,
    unit: str = UNIT,
    event_id: uuid.UUID | None = None,
    **more: Any,
) -> Incoming:
    body = CaseEvent(
        event_id=event_id or uuid.uuid4(),
        unit=unit,
        kind=kind,
        occurred_at=at,
        report_id=report_id,
        **more,
    )
    return Incoming(body, "test-client", "http")


async def case_row(owner: asyncpg.Connection, report_id: uuid.UUID) -> asyncpg.Record:
    return await owner.fetchrow("SELECT * FROM unit_cases WHERE report_id = $1", report_id)


async def test_received_then_brought_before_court_in_time_meets_the_deadline(
    owner: asyncpg.Connection,
) -> None:
    report_id = await routed(owner, due=deadline(NOW + dt.timedelta(hours=1), CUSTODY))
    received = event(report_id, CaseEventKind.RECEIVED, NOW - dt.timedelta(minutes=90))
    court = event(report_id, CaseEventKind.BROUGHT_BEFORE_COURT, NOW - dt.timedelta(minutes=5))
    first, second = await apply_events(owner, [received, court], NOW)
    assert (first.verdict, first.deadline, first.case_id) == ("applied", "open", report_id)
    assert (second.verdict, second.deadline) == ("applied", DeadlineState.MET_ON_TIME)
    row = await case_row(owner, report_id)
    assert row["received_at"] == received.event.occurred_at
    assert (row["met_at"], row["met_event"]) == (court.event.occurred_at, court.event.event_id)
    assert row["last_event_at"] == court.event.occurred_at
    events = await case_events_of(owner, report_id)
    assert [(e.kind, e.client, e.via) for e in events] == [
        (CaseEventKind.RECEIVED, "test-client", "http"),
        (CaseEventKind.BROUGHT_BEFORE_COURT, "test-client", "http"),
    ]
    (case,) = await cases_of(owner, report_id)
    assert case.met_by == frozenset(CUSTODY)
    assert case.met_at == court.event.occurred_at


async def test_a_later_event_dated_earlier_lowers_the_time_met(owner: asyncpg.Connection) -> None:
    report_id = await routed(owner, due=deadline(NOW - dt.timedelta(minutes=30), CUSTODY))
    late = event(report_id, CaseEventKind.RELEASED, NOW - dt.timedelta(minutes=10))
    (outcome,) = await apply_events(owner, [late], NOW)
    assert outcome.deadline is DeadlineState.MET_LATE
    early = event(report_id, CaseEventKind.BROUGHT_BEFORE_COURT, NOW - dt.timedelta(hours=1))
    (outcome,) = await apply_events(owner, [early], NOW)
    assert outcome.deadline is DeadlineState.MET_ON_TIME
    row = await case_row(owner, report_id)
    assert (row["met_at"], row["met_event"]) == (early.event.occurred_at, early.event.event_id)
    assert row["last_event_at"] == late.event.occurred_at


async def test_nothing_that_meets_it_before_due_is_missed(owner: asyncpg.Connection) -> None:
    report_id = await routed(owner, due=deadline(NOW - dt.timedelta(minutes=1), CUSTODY))
    received = event(report_id, CaseEventKind.RECEIVED, NOW - dt.timedelta(minutes=60))
    (outcome,) = await apply_events(owner, [received], NOW)
    assert outcome.deadline is DeadlineState.MISSED
    assert (await case_row(owner, report_id))["met_at"] is None


async def test_a_case_without_a_deadline_has_no_deadline_state(owner: asyncpg.Connection) -> None:
    report_id = await routed(owner)
    (outcome,) = await apply_events(owner, [event(report_id, CaseEventKind.RECEIVED, NOW)], NOW)
    assert (outcome.verdict, outcome.deadline) == ("applied", None)


async def test_a_repeat_is_applied_once_and_other_content_is_a_conflict(
    owner: asyncpg.Connection,
) -> None:
    report_id = await routed(owner)
    received = event(report_id, CaseEventKind.RECEIVED, NOW - dt.timedelta(minutes=30))
    # The same instant written with another offset is the same event.
    oslo = dt.timezone(dt.timedelta(hours=1))
    again = Incoming(
        CaseEvent(
            **{
                **_fields(received.event),
                "occurred_at": received.event.occurred_at.astimezone(oslo),
            }
        ),
        "other-client",
        "amqp",
    )
    outcomes = await apply_events(owner, [received, again], NOW)
    assert [o.verdict for o in outcomes] == ["applied", "repeat"]
    (repeat,) = await apply_events(owner, [received], NOW)
    assert (repeat.verdict, repeat.case_id) == ("repeat", report_id)
    other = event(
        report_id,
        CaseEventKind.INTERVIEW_HELD,
        NOW - dt.timedelta(minutes=20),
        event_id=received.event.event_id,
    )
    (conflict,) = await apply_events(owner, [other], NOW)
    assert (conflict.verdict, conflict.refusal, conflict.case_id) == (
        "refused",
        Refusal.CONFLICT,
        None,
    )
    rows = await owner.fetch("SELECT client, via FROM case_events WHERE report_id = $1", report_id)
    assert [tuple(r) for r in rows] == [("test-client", "http")]


def _fields(body: CaseEvent) -> dict[str, Any]:
    return {name: getattr(body, name) for name in body.__struct_fields__}


async def test_another_units_case_and_an_unknown_report_are_not_held(
    owner: asyncpg.Connection,
) -> None:
    report_id = await routed(owner)
    mine = event(report_id, CaseEventKind.RECEIVED, NOW, unit="bergen.a")
    unknown = event(uuid.uuid4(), CaseEventKind.RECEIVED, NOW)
    outcomes = await apply_events(owner, [mine, unknown], NOW)
    assert [(o.verdict, o.refusal, o.case_id) for o in outcomes] == [
        ("refused", Refusal.NOT_HELD, None),
        ("refused", Refusal.NOT_HELD, None),
    ]
    assert all("holds no case" in (o.message or "") for o in outcomes)
    assert await owner.fetchval("SELECT count(*) FROM case_events") == 0


async def test_a_refused_event_in_a_batch_changes_nothing_of_its_own(
    owner: asyncpg.Connection,
) -> None:
    report_id = await routed(owner)
    closed = event(
        report_id, CaseEventKind.CLOSED, NOW - dt.timedelta(minutes=10), outcome=CaseOutcome.WAIVER
    )
    after = event(report_id, CaseEventKind.INTERVIEW_HELD, NOW - dt.timedelta(minutes=5))
    earlier = event(report_id, CaseEventKind.RECEIVED, NOW - dt.timedelta(minutes=60))
    outcomes = await apply_events(owner, [closed, after, earlier], NOW)
    assert [(o.verdict, o.refusal) for o in outcomes] == [
        ("applied", None),
        ("refused", Refusal.AFTER_CLOSURE),
        ("applied", None),
    ]
    row = await case_row(owner, report_id)
    assert (row["closed_at"], row["outcome"]) == (closed.event.occurred_at, "waiver")
    assert row["received_at"] == earlier.event.occurred_at
    assert row["last_event_at"] == closed.event.occurred_at
    kinds = await owner.fetch("SELECT kind FROM case_events WHERE report_id = $1", report_id)
    assert sorted(r["kind"] for r in kinds) == ["closed", "received"]


async def test_a_returned_case_waits_on_the_work_list_again(owner: asyncpg.Connection) -> None:
    due = NOW + dt.timedelta(days=3)
    report_id = await routed(
        owner, district="Sør-Øst", due=deadline(due, ["prosecution_decision"]), priority="critical"
    )
    back = event(
        report_id,
        CaseEventKind.RETURNED,
        NOW - dt.timedelta(minutes=3),
        reason=ReturnReason.WRONG_DISTRICT,
    )
    after = event(report_id, CaseEventKind.RECEIVED, NOW - dt.timedelta(minutes=2))
    returned, refused = await apply_events(owner, [back, after], NOW)
    assert (returned.verdict, returned.deadline) == ("applied", DeadlineState.ENDED)
    assert (refused.verdict, refused.refusal) == ("refused", Refusal.NOT_HELD)
    item = await owner.fetchrow("SELECT * FROM work_items WHERE report_id = $1", report_id)
    assert {k: item[k] for k in ("district", "source", "reason", "detail", "state")} == {
        "district": "sor-ost",
        "source": "politiet.no",
        "reason": "returned",
        "detail": "wrong_district",
        "state": "waiting",
    }
    assert (item["priority"], item["priority_rank"], item["deadline_at"]) == ("critical", 3, due)
    assert (item["received_at"], item["waiting_since"]) == (NOW - dt.timedelta(hours=3), NOW)
    row = await case_row(owner, report_id)
    assert (row["returned_at"], row["return_reason"]) == (back.event.occurred_at, "wrong_district")
    # Sent again: a repeat, with the case it returned; anything else is not held any more.
    (repeat,) = await apply_events(owner, [back], NOW)
    assert (repeat.verdict, repeat.case_id, repeat.deadline) == ("repeat", report_id, "ended")


async def test_a_decided_work_item_waits_again_with_its_claim_cleared(
    owner: asyncpg.Connection,
) -> None:
    report_id = await routed(owner, unit="oslo.b")
    await owner.execute(
        "INSERT INTO work_items (report_id, district, source, reason, priority, priority_rank,"
        " received_at, waiting_since, version, state, outcome, claimed_by, claim_role,"
        " claim_token, lease_until) VALUES ($1, 'oslo', 's', 'rule', 'low', 0, $2, $2, 2,"
        " 'done', 'routed', 'anne', 'assessor', $3, $2)",
        report_id,
        NOW - dt.timedelta(hours=1),
        uuid.uuid4(),
    )
    back = event(
        report_id, CaseEventKind.RETURNED, NOW, unit="oslo.b", reason=ReturnReason.INCOMPLETE
    )
    (outcome,) = await apply_events(owner, [back], NOW)
    assert outcome.verdict == "applied"
    item = await owner.fetchrow("SELECT * FROM work_items WHERE report_id = $1", report_id)
    assert (item["state"], item["reason"], item["detail"], item["outcome"]) == (
        "waiting",
        "returned",
        "incomplete",
        None,
    )
    assert (item["claimed_by"], item["claim_token"], item["lease_until"]) == (None, None, None)
    assert (item["version"], item["priority"], item["waiting_since"]) == (2, "high", NOW)


async def a_person_case(
    owner: asyncpg.Connection, unit: str, decision: dict[str, Any]
) -> tuple[uuid.UUID, uuid.UUID]:
    """A report a person routed to `unit` (their decision as stored), the case confirmed."""
    report_id, act = await a_report(owner), uuid.uuid4()
    await owner.execute(
        "INSERT INTO person_acts (id, report_id, kind, actor, actor_role, details)"
        " VALUES ($1, $2, 'routed', 'anne', 'assessor', '{}')",
        act,
        report_id,
    )
    await held_cases.decided_by_a_person(
        owner,
        act,
        report_id,
        unit,
        decision,
        district="vest",
        decided_at=NOW,
        confirmed_at=NOW - dt.timedelta(hours=1),
    )
    return report_id, act


async def test_a_persons_case_is_held_with_its_decisions_deadline(
    owner: asyncpg.Connection,
) -> None:
    due = NOW + dt.timedelta(days=42)
    met_by = ["prosecution_decision"]
    report_id, act = await a_person_case(
        owner, "vest.etterforskning", {"deadline": deadline(due, met_by, moment="report")}
    )
    (case,) = await cases_of(owner, report_id)
    assert (case.case_id, case.unit, case.due_at, case.met_by, case.priority) == (
        act,
        "vest.etterforskning",
        due,
        frozenset(met_by),
        "normal",
    )
    row = await case_row(owner, report_id)
    assert (row["deadline_moment"], row["deadline_rule"], row["routed_at"]) == (
        "report",
        "custody",
        NOW - dt.timedelta(hours=1),
    )
    back = event(
        report_id,
        CaseEventKind.RETURNED,
        NOW,
        unit="vest.etterforskning",
        reason=ReturnReason.WRONG_UNIT,
    )
    (outcome,) = await apply_events(owner, [back], NOW)
    assert (outcome.verdict, outcome.case_id) == ("applied", act)
    # A person's decision names its district by slug already.
    assert (
        await owner.fetchval("SELECT district FROM work_items WHERE report_id = $1", report_id)
        == "vest"
    )


@pytest.mark.parametrize(
    "decided",
    [
        {},
        {"deadline": None},
        # A deadline naming nothing that meets it could never be met: held without it.
        {"deadline": {"due_at": NOW.isoformat(), "basis": "b", "rule_id": "r"}},
        {"deadline": {**deadline(NOW, []), "met_by": None}},
        {"deadline": deadline(NOW, [])},
        {"deadline": "2026-12-01T10:00:00Z"},
    ],
)
async def test_a_case_without_a_deadline_that_can_be_met_is_held_without_one(
    owner: asyncpg.Connection, decided: dict[str, Any]
) -> None:
    report_id, _ = await a_person_case(owner, "vest.a", decided)
    (case,) = await cases_of(owner, report_id)
    assert (case.due_at, case.met_by) == (None, frozenset())
    row = await case_row(owner, report_id)
    assert (row["deadline_moment"], row["deadline_basis"], row["deadline_rule"]) == (None,) * 3


async def test_a_confirmation_without_a_decision_holds_no_case(owner: asyncpg.Connection) -> None:
    report_id = await a_report(owner)
    await owner.execute(
        "INSERT INTO case_deliveries (report_id, unit) VALUES ($1, 'oslo.a')", report_id
    )
    assert await cases_of(owner, report_id) == []


async def test_a_triage_delivery_makes_no_held_case(owner: asyncpg.Connection) -> None:
    report_id = await routed(owner, unit="triage")
    assert await cases_of(owner, report_id) == []
    (outcome,) = await apply_events(
        owner, [event(report_id, CaseEventKind.RECEIVED, NOW, unit="triage")], NOW
    )
    assert outcome.refusal is Refusal.NOT_HELD


async def test_a_batch_of_500_mixed_events_applies_in_one_call_in_order(
    owner: asyncpg.Connection,
) -> None:
    due = NOW + dt.timedelta(hours=1)
    reports = [await routed(owner, due=deadline(due, CUSTODY)) for _ in range(125)]
    batch: list[Incoming] = []
    expected: list[tuple[str, Refusal | None]] = []
    for n, report_id in enumerate(reports):
        received = event(report_id, CaseEventKind.RECEIVED, NOW - dt.timedelta(minutes=60))
        court = event(
            report_id, CaseEventKind.BROUGHT_BEFORE_COURT, NOW - dt.timedelta(minutes=n % 50)
        )
        if n % 5 == 0:
            fourth = received  # the first again: a repeat
            expected_fourth: tuple[str, Refusal | None] = ("repeat", None)
        elif n % 5 == 1:
            fourth = event(report_id, CaseEventKind.RECEIVED, NOW)  # another id
            expected_fourth = ("refused", Refusal.ALREADY_RECEIVED)
        elif n % 5 == 2:
            fourth = event(report_id, CaseEventKind.RELEASED, NOW, unit="bergen.a")
            expected_fourth = ("refused", Refusal.NOT_HELD)
        elif n % 5 == 3:
            fourth = event(report_id, CaseEventKind.RETURNED, NOW, reason=ReturnReason.INCOMPLETE)
            expected_fourth = ("applied", None)
        else:
            fourth = event(report_id, CaseEventKind.RELEASED, NOW + dt.timedelta(minutes=5))
            expected_fourth = ("refused", Refusal.IN_FUTURE)
        closed = event(report_id, CaseEventKind.CLOSED, NOW, outcome=CaseOutcome.INDICTMENT)
        batch += [received, court, fourth, closed]
        # A returned case is no longer held: its closure is refused as not held.
        after = ("refused", Refusal.NOT_HELD) if n % 5 == 3 else ("applied", None)
        expected += [("applied", None), ("applied", None), expected_fourth, after]
    outcomes = await apply_events(owner, batch, NOW)
    assert [(o.verdict, o.refusal) for o in outcomes] == expected
    assert [o.event_id for o in outcomes] == [i.event.event_id for i in batch]
    applied = sum(o.verdict == "applied" for o in outcomes)
    assert await owner.fetchval("SELECT count(*) FROM case_events") == applied
    assert await owner.fetchval("SELECT count(*) FROM work_items WHERE reason = 'returned'") == 25
    assert (
        await owner.fetchval(
            "SELECT count(*) FROM unit_cases WHERE met_at IS NOT NULL AND met_at <= due_at"
        )
        == 125
    )


@pytest.mark.parametrize("service", ["intake", "router"])
async def test_the_services_logins_may_apply_events(
    owner: asyncpg.Connection, database_url: str, service_logins: dict[str, str], service: str
) -> None:
    fresh, decided = await routed(owner), await routed(owner)
    await owner.execute(
        "INSERT INTO work_items (report_id, district, source, reason, priority, priority_rank,"
        " received_at, waiting_since, state) VALUES ($1, 'oslo', 's', 'rule', 'low', 0, $2, $2,"
        " 'done')",
        decided,
        NOW,
    )
    login = await asyncpg.connect(as_login(database_url, service_logins[service]))
    try:
        batch = [
            event(fresh, CaseEventKind.RECEIVED, NOW),
            event(fresh, CaseEventKind.RETURNED, NOW, reason=ReturnReason.NOT_FOR_THE_POLICE),
            event(decided, CaseEventKind.RETURNED, NOW, reason=ReturnReason.WRONG_UNIT),
        ]
        outcomes = await apply_events(login, batch, NOW)
        assert [o.verdict for o in outcomes] == ["applied"] * 3
        assert [o.verdict for o in await apply_events(login, batch, NOW)] == ["repeat"] * 3
        assert len(await case_events_of(login, fresh)) == 2
        assert len(await cases_of(login, decided)) == 1
    finally:
        await login.close()
    states = await owner.fetch("SELECT state FROM work_items WHERE reason = 'returned'")
    assert [r["state"] for r in states] == ["waiting", "waiting"]


async def test_a_work_item_still_waiting_is_left_as_it_is(owner: asyncpg.Connection) -> None:
    report_id = await routed(owner)
    since = NOW - dt.timedelta(hours=1)
    await owner.execute(
        "INSERT INTO work_items (report_id, district, source, reason, detail, priority,"
        " priority_rank, received_at, waiting_since) VALUES ($1, 'oslo', 's', 'rule', 'r1',"
        " 'low', 0, $2, $2)",
        report_id,
        since,
    )
    back = event(report_id, CaseEventKind.RETURNED, NOW, reason=ReturnReason.WRONG_UNIT)
    (outcome,) = await apply_events(owner, [back], NOW)
    assert outcome.verdict == "applied"
    item = await owner.fetchrow("SELECT * FROM work_items WHERE report_id = $1", report_id)
    assert (item["reason"], item["detail"], item["waiting_since"]) == ("rule", "r1", since)
