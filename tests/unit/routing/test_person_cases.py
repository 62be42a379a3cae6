"""A person's case as the router reads it: the `case.decided` message and the stored
decision it names, checked before anything is published."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import msgspec
import pytest

from schemas.decision import DecidedBy, Decision, Priority
from schemas.envelope import CaseDecided
from services.routing.deliveries import Refused
from services.routing.person_cases import Ready, headers, read_decided, ready
from services.routing.person_store import PersonCase

REPORT = uuid.UUID("0b9d0c4e-7d5e-4a0e-9a51-0d7f3c2b1a10")
ACT = uuid.UUID("5f0e8a51-2c3b-4d6e-8f71-9a0b1c2d3e4f")
UNIT = "oslo.vold-og-seksual"
AT = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)


def decision(**changes: object) -> Decision:
    made = Decision(
        report_id=REPORT,
        unit=UNIT,
        priority=Priority.HIGH,
        amqp_priority=7,
        ruleset_version="v1",
        decided_at=AT,
        district="oslo",
        decided_by=DecidedBy("anne", "assessor", "routed", ACT, reason="r", report_version=2),
    )
    return msgspec.structs.replace(made, **changes)


def stored(**changes: object) -> PersonCase:
    row = PersonCase(ACT, REPORT, UNIT, 2, msgspec.json.encode(decision()).decode(), "{}")
    return dataclasses.replace(row, **changes)  # type: ignore[arg-type]


def body(**fields: object) -> bytes:
    return msgspec.json.encode({"decision_id": str(ACT), "report_id": str(REPORT), **fields})


def test_a_message_under_its_decision_id_is_read() -> None:
    assert read_decided(body(), str(ACT)) == CaseDecided(ACT, REPORT)
    assert read_decided(body(), None) == CaseDecided(ACT, REPORT)


@pytest.mark.parametrize(
    ("raw", "message_id", "code"),
    [
        (b"\xff not json", str(ACT), "undecodable"),
        (b'{"decision_id": "Kari Nordmann"}', str(ACT), "contract"),
        (body(), str(REPORT), "message_id_mismatch"),
    ],
)
def test_an_unreadable_message_is_refused_with_its_code(
    raw: bytes, message_id: str, code: str
) -> None:
    refused = read_decided(raw, message_id)
    assert isinstance(refused, Refused)
    assert refused.code == code
    assert "Kari" not in refused.reason  # a value quoted back may be personal data
    assert refused.report_id is None  # not a report's own message: its status is untouched


def test_the_stored_case_is_ready_with_its_decision() -> None:
    got = ready(CaseDecided(ACT, REPORT), stored())
    assert isinstance(got, Ready)
    assert got.decision == decision()
    wire = msgspec.json.decode(msgspec.json.encode(got.wire()))
    assert wire["report_id"] == str(REPORT)
    assert wire["decision"]["decided_by"]["act_id"] == str(ACT)


def _refused(case: PersonCase | None, decided: CaseDecided | None = None) -> Refused:
    got = ready(decided or CaseDecided(ACT, REPORT), case)
    assert isinstance(got, Refused)
    return got


def test_no_stored_decision_is_unknown() -> None:
    assert _refused(None).code == "unknown_decision"


def test_a_message_naming_another_report_differs() -> None:
    assert _refused(stored(), CaseDecided(ACT, uuid.uuid4())).code == "report_differs"


@pytest.mark.parametrize(
    "case",
    [
        stored(decision="{"),
        stored(decision=msgspec.json.encode(decision(decided_by=None)).decode()),
        stored(decision=msgspec.json.encode(decision(unit="vest.barn-og-unge")).decode()),
        stored(
            decision=msgspec.json.encode(
                decision(decided_by=DecidedBy("anne", "assessor", "routed", uuid.uuid4()))
            ).decode()
        ),
        stored(report=None),
    ],
    ids=["unreadable", "no person", "another unit", "another act", "version missing"],
)
def test_a_stored_decision_that_cannot_be_sent_as_it_is_fails(case: PersonCase) -> None:
    assert _refused(case).code == "decision_failed"


def test_headers_name_the_act_and_no_person() -> None:
    made = headers(decision())
    # The subject id and the reason stay in the body, for the unit's system to read.
    assert made == {"x-fsi-priority": "high", "x-fsi-ruleset": "v1", "x-fsi-act": "routed"}
