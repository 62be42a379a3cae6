"""A report's history as the API shows it: events oldest first (same instant: in the order
they happen), a machine client's view without subject ids and reasons, a correction named by
its fields and version and never its values, a claim without its token; who may read a
report, and a person's decision without who and why for a machine client."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import msgspec

from services.intake.access import Client, Role
from services.intake.api import may_read, report_view
from services.intake.people import Person, PersonRole
from services.intake.records import ReportRow
from services.intake.timeline import Fact, assemble, decode

T0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
ACT = uuid.UUID("00000000-0000-4000-8000-000000000001")


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def person_fact(
    kind: str,
    seconds: float,
    details: dict[str, object],
    reason: str | None = None,
    version: int | None = None,
) -> Fact:
    """An act of `anne`, an assessor, as the history's SQL reads it."""
    return Fact(at(seconds), 5, kind, "person", "anne", "assessor", reason, details, version, ACT)


FACTS = [
    person_fact("corrected", 30, {"fields": ["incident.municipality"], "version": 2}),
    Fact(at(0), 0, "accepted", "client", "alpha", "submitter", None, {"version": 1}),
    Fact(at(10), 3, "triaged", "router", details={"unit": "triage"}),
    # Decided and confirmed at the same instant: decided comes first.
    Fact(at(10), 2, "decided", "rules", "v-2026-11", details={"unit": "triage"}),
    Fact(at(1), 1, "published", "intake"),
    person_fact(
        "claimed",
        20,
        {"token": str(uuid.uuid4()), "lease_until": "2026-11-30T08:15:20+00:00"},
        reason="taking it",
    ),
]


def test_events_come_oldest_first_and_in_their_order_at_one_instant() -> None:
    events = assemble(FACTS, full=True)
    assert [e.event for e in events] == [
        "accepted",
        "published",
        "decided",
        "triaged",
        "claimed",
        "corrected",
    ]
    assert [e.at for e in events] == [at(0), at(1), at(10), at(10), at(20), at(30)]


def test_the_relays_confirm_recorded_after_the_decision_still_comes_before_it() -> None:
    # The router decided on the delivered message (t=5) and the triage queue confirmed its
    # case (t=6) before the relay recorded the broker's confirm (t=7): published is shown
    # before decided, with its own time.
    facts = [
        Fact(at(0), 0, "accepted", "client", "alpha", "submitter", None, {"version": 1}),
        Fact(at(7), 1, "published", "intake"),
        Fact(at(5), 2, "decided", "rules", "v-2026-11", details={"unit": "triage"}),
        Fact(at(6), 3, "triaged", "router", details={"unit": "triage"}),
        person_fact("claimed", 6.5, {"lease_until": "2026-11-30T08:15:06+00:00"}),
    ]
    events = assemble(facts, full=True)
    assert [e.event for e in events] == ["accepted", "published", "decided", "triaged", "claimed"]
    assert [e.at for e in events] == [at(0), at(7), at(5), at(6), at(6.5)]


def test_a_person_sees_who_and_why() -> None:
    claimed = assemble(FACTS, full=True)[4]
    assert (claimed.by.kind, claimed.by.id, claimed.by.role) == ("person", "anne", "assessor")
    assert claimed.reason == "taking it"
    assert assemble(FACTS, full=True)[2].by.id == "v-2026-11"


def test_a_machine_client_sees_a_persons_kind_and_role_only_and_no_reasons() -> None:
    events = assemble(FACTS, full=False)
    people = [e for e in events if e.by.kind == "person"]
    assert [e.event for e in people] == ["claimed", "corrected"]
    assert all(e.by.id is None and e.by.role == "assessor" for e in people)
    assert all(e.reason is None for e in events)


def test_a_machine_client_still_sees_the_client_and_the_rule_set_version() -> None:
    # Only persons' subject ids are hidden: the submitting client's id (the reader's own,
    # or any for an operator) and the rules' set version are no person's.
    by = {e.event: e.by for e in assemble(FACTS, full=False)}
    assert (by["accepted"].kind, by["accepted"].id, by["accepted"].role) == (
        "client",
        "alpha",
        "submitter",
    )
    assert (by["decided"].kind, by["decided"].id) == ("rules", "v-2026-11")


def test_a_claim_never_shows_its_token() -> None:
    for full in (True, False):
        claimed = assemble(FACTS, full=full)[4]
        assert claimed.details == {
            "lease_until": "2026-11-30T08:15:20+00:00",
            "act_id": str(ACT),
        }


def test_a_correction_names_fields_and_the_audited_version_never_values() -> None:
    stored = {
        "fields": ["incident.municipality", "persons[0].role"],
        "version": 7,  # the act's own say; the audit's version (report_versions) wins
        "incident.municipality": "0301",
        "values": {"persons[0].role": "suspect"},
        "downgrade": False,
    }
    (event,) = assemble([person_fact("corrected", 1, stored, version=2)], full=True)
    assert event.details == {
        "fields": ["incident.municipality", "persons[0].role"],
        "version": 2,
        "downgrade": False,
        "act_id": str(ACT),
    }
    assert "0301" not in json.dumps(msgspec.to_builtins(event))


def test_an_act_of_a_kind_not_known_here_shows_no_details() -> None:
    (event,) = assemble([person_fact("returned", 1, {"note": "x"})], full=True)
    assert event.details == {"act_id": str(ACT)}


def test_facts_decode_from_postgresql_json_into_utc() -> None:
    text = json.dumps(
        [
            {
                "at": "2026-11-30T09:00:00.123456+01:00",
                "seq": 0,
                "event": "accepted",
                "by_kind": "client",
                "by_id": "alpha",
                "by_role": "submitter",
                "reason": None,
                "details": {"source_format": "canonical", "version": 1},
                "version": None,
                "act_id": None,
            }
        ]
    )
    (event,) = assemble(decode(text), full=True)
    assert event.at == dt.datetime(2026, 11, 30, 8, 0, 0, 123456, tzinfo=dt.UTC)
    assert event.at.utcoffset() == dt.timedelta(0)


def person(*roles: PersonRole, districts: tuple[str, ...] = (), national: bool = False) -> Person:
    return Person("pia", frozenset(roles), frozenset(districts), national)


def row(**kw: object) -> ReportRow:
    fields: dict[str, object] = {
        "id": uuid.uuid4(),
        "client_id": "alpha",
        "status": "routed",
        "source_format": "canonical",
        "received_at": T0,
        "published_at": at(1),
        "report_json": "{}",
        "quality_issues_json": "[]",
        "decision_json": None,
        **kw,
    }
    return ReportRow(**fields)  # type: ignore[arg-type]


def test_who_may_read_a_report() -> None:
    oslo = person(PersonRole.ASSESSOR, districts=("oslo",))
    national = person(PersonRole.PROSECUTOR, national=True)
    alpha = Client(id="alpha", key_sha256="0" * 64)
    beta = Client(id="beta", key_sha256="1" * 64)
    ops = Client(id="ops", key_sha256="2" * 64, roles=frozenset({Role.OPERATOR}))
    in_oslo = row(district="oslo", placed=True)
    in_vest = row(district="vest", placed=True)
    no_district = row(district=None, placed=True)  # on the list, no district placed
    undecided = row(district=None, placed=False)
    assert [may_read(oslo, r) for r in (in_oslo, in_vest, no_district, undecided)] == [
        True,
        False,
        True,
        False,
    ]
    assert [may_read(national, r) for r in (in_oslo, in_vest, undecided)] == [True] * 3
    assert [may_read(c, in_vest) for c in (alpha, beta, ops)] == [True, False, True]


def test_a_person_s_decision_hides_who_and_why_from_a_machine_client() -> None:
    decision = {
        "unit": "oslo.vold",
        "decided_by": {
            "subject": "anne",
            "role": "assessor",
            "act": "routed",
            "act_id": str(ACT),
            "reason": "urgent: the victim is a child",
        },
    }
    stored = row(decision_json=json.dumps(decision), person_decided=True, version=3)
    machine = msgspec.json.decode(msgspec.json.encode(report_view(stored, full=False)))
    full = msgspec.json.decode(msgspec.json.encode(report_view(stored, full=True)))
    assert machine["decision"]["decided_by"] == {
        "role": "assessor",
        "act": "routed",
        "act_id": str(ACT),
    }
    assert full["decision"] == decision
    assert (machine["version"], machine["versions"]) == (3, [1, 2, 3])
