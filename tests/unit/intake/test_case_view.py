"""A report's cases and the units' events as its read shows them (pure): each case's state and
deadline state, a case event in the history (the client of a unit's system for people of the
intake only), and the clients file's unit role."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
import pytest

from services.intake import timeline
from services.intake.access import Clients, ClientsFileError, hash_key
from services.intake.cases.view import CaseFact, case_views, decode
from tests.support.clients import CLIENTS_YAML
from tests.unit.intake.case_events_memory import FOREIGN, UNIT, UNIT_CLIENTS

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
DUE = T0 + dt.timedelta(days=3)
MET_BY = ("brought_before_court", "released")


def fact(**changes: object) -> CaseFact:
    base = CaseFact(
        case_id=uuid.uuid4(), unit=UNIT, routed_at=T0, due_at=DUE, moment="arrest", met_by=MET_BY
    )
    return msgspec.structs.replace(base, **changes)


@pytest.mark.parametrize(
    ("changes", "now", "state", "deadline"),
    [
        ({}, T0, "routed", "open"),
        ({}, DUE, "routed", "missed"),  # due exactly now is missed
        ({"received_at": T0}, DUE - dt.timedelta(hours=1), "received", "open"),
        ({"received_at": T0, "met_at": DUE}, DUE + dt.timedelta(days=9), "received", "met_on_time"),
        ({"met_at": DUE + dt.timedelta(seconds=1)}, DUE, "routed", "met_late"),
        ({"returned_at": T0, "return_reason": "wrong_unit"}, DUE, "returned", "ended"),
        ({"closed_at": T0, "outcome": "waiver", "met_at": T0}, DUE, "closed", "met_on_time"),
    ],
)
def test_a_case_says_where_it_is_and_where_its_deadline_stands(
    changes: dict[str, object], now: dt.datetime, state: str, deadline: str
) -> None:
    (view,) = case_views([fact(**changes)], now)
    assert view.state == state
    assert view.deadline is not None
    assert (view.deadline.state, view.deadline.due_at) == (deadline, DUE)
    assert (view.deadline.moment, view.deadline.met_by) == ("arrest", list(MET_BY))


def test_a_case_without_a_deadline_has_none_and_times_are_utc() -> None:
    oslo = dt.timezone(dt.timedelta(hours=1))
    (view,) = case_views([fact(due_at=None, met_by=(), routed_at=T0.astimezone(oslo))], T0)
    assert view.deadline is None
    assert view.routed_at.tzinfo == dt.UTC


def test_cases_decode_from_postgresql_json() -> None:
    text = (
        '[{"case_id": "8f0b7a9e-8a57-4f39-9a53-2b1f2c3d4e5f", "unit": "oslo.vold-og-seksual",'
        ' "routed_at": "2026-11-30T10:00:00.5+01:00", "received_at": null,'
        ' "returned_at": null, "return_reason": null, "closed_at": null, "outcome": null,'
        ' "due_at": "2026-12-03T10:00:00+01:00", "moment": "arrest",'
        ' "met_by": ["brought_before_court", "released"], "met_at": null}]'
    )
    (case,) = case_views(decode(text), T0)
    assert case.routed_at == dt.datetime(2026, 11, 30, 9, 0, 0, 500000, tzinfo=dt.UTC)
    assert case.deadline is not None
    assert case.deadline.state == "open"


def case_event(**details: object) -> timeline.Fact:
    return timeline.Fact(
        at=T0,
        seq=7,
        event="case_brought_before_court",
        by_kind="unit",
        by_id=UNIT,
        details={
            "unit": UNIT,
            "deadline": "met_on_time",
            "recorded_at": "2026-11-30T09:00:01+00:00",
            "via": "http",
            "client": "unit-oslo",
            "event_id": "0b1c",
            "digest": "not shown",
            **details,
        },
    )


def test_a_case_event_shows_its_unit_code_and_deadline_and_its_client_to_people_only() -> None:
    full = timeline.event_of(case_event(), full=True)
    assert full.by == timeline.Actor("unit", UNIT, None)
    assert full.details == {
        "unit": UNIT,
        "deadline": "met_on_time",
        "recorded_at": "2026-11-30T09:00:01+00:00",
        "via": "http",
        "client": "unit-oslo",
        "event_id": "0b1c",
    }
    machine = timeline.event_of(case_event(), full=False)
    assert "client" not in machine.details
    assert machine.by == full.by
    assert {f"case_{kind}" for kind in ("received", "returned", "closed")} <= set(timeline.DETAILS)
    assert "unit" in timeline.KINDS
    returned = case_event(reason="wrong_unit")
    assert timeline.event_of(returned, full=False).details["reason"] == "wrong_unit"


def test_a_case_event_comes_after_what_happened_before_it() -> None:
    queued = timeline.Fact(at=T0 - dt.timedelta(hours=1), seq=3, event="queued", by_kind="router")
    events = timeline.assemble([case_event(), queued], full=False)
    assert [e.event for e in events] == ["queued", "case_brought_before_court"]


def test_the_clients_file_gives_units_to_unit_clients_only() -> None:
    clients = Clients.from_yaml(CLIENTS_YAML + UNIT_CLIENTS)
    unit = clients.by_id("unit-oslo")
    assert unit is not None
    assert unit.is_unit
    assert not unit.is_operator
    assert unit.may_act_for(UNIT)
    assert not unit.may_act_for(FOREIGN)
    assert not unit.may_submit("alpha-src")
    alpha = clients.by_id("alpha")
    assert alpha is not None
    assert not alpha.may_act_for(UNIT)
    key = hash_key("k")
    with pytest.raises(ClientsFileError, match=r"client u has the role `unit` but no `units`"):
        Clients.from_yaml(f"clients:\n  - {{id: u, key_sha256: {key}, roles: [unit]}}\n")
    with pytest.raises(ClientsFileError, match=r"client s lists `units` without the role"):
        Clients.from_yaml(f"clients:\n  - {{id: s, key_sha256: {key}, units: [{UNIT}]}}\n")
    with pytest.raises(ClientsFileError):
        Clients.from_yaml(
            f"clients:\n  - {{id: u, key_sha256: {key}, roles: [unit], units: [Oslo]}}\n"
        )
