"""Case events over AMQP apart from the broker: what is refused on reading (with a reason
naming the path and quoting nothing), the routing key against the unit, the store's
outcomes kept in delivery order, and one store call per batch."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec
import pytest

from schemas.caseevents import CaseEvent, CaseEventKind
from services.common.caseevents.metrics import UNIT_MISMATCH, VERDICTS
from services.common.caseevents.model import Refusal
from services.common.caseevents.store import Incoming, Outcome
from services.routing.caseevents_handler import (
    Delivered,
    Verdict,
    read,
    settle,
    settle_apart,
)

UNIT = "oslo.felles-etterforskning"
AT = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def event(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "report_id": str(uuid.uuid4()),
        "unit": UNIT,
        "kind": "received",
        "occurred_at": AT.isoformat(),
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def delivery(
    body: dict[str, Any] | bytes,
    key: str | None = UNIT,
    user: str | None = None,
    message_id: str | None = None,
) -> Delivered:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Delivered(raw, key, user, message_id)


def refused(result: Incoming | Verdict) -> Verdict:
    assert isinstance(result, Verdict), result
    assert result.refused
    assert result.reason
    return result


def test_an_event_is_read_with_its_sender_as_client() -> None:
    body = event(kind="closed", outcome="dismissed")
    got = read(delivery(body, user=f"fsi.unit.{UNIT}"))
    assert isinstance(got, Incoming)
    assert got.event == msgspec.json.decode(json.dumps(body), type=CaseEvent)
    assert (got.client, got.via) == (f"amqp:fsi.unit.{UNIT}", "amqp")
    anonymous = read(delivery(event()))
    assert isinstance(anonymous, Incoming)
    assert anonymous.client == "amqp:-"


def test_a_body_that_is_not_json_is_invalid_of_unknown_kind() -> None:
    got = refused(read(delivery(b"\xff Kari 24869023120")))
    assert (got.verdict, got.kind, got.event_id) == ("invalid", "unknown", None)
    assert got.reason is not None
    assert got.reason == "not a fsi.case.event.v1 message: not UTF-8 text (byte 0)"
    assert "24869023120" not in got.reason
    for body, said in (
        (b"", "empty: no JSON in it"),
        (b"  \n", "empty: no JSON in it"),
        (b"Kari 24869023120", "JSON is malformed: invalid character (byte 0)"),
        (b"\xff\xfe{}", "UTF-16 text"),
    ):
        got = refused(read(delivery(body)))
        assert got.reason is not None
        assert got.reason.startswith(f"not a fsi.case.event.v1 message: {said}"), got.reason


def test_a_key_given_twice_is_invalid_as_over_http() -> None:
    # The last key would win in msgspec, the first in others: neither is what the unit meant.
    raw = json.dumps(event(kind="closed", outcome="dismissed"))
    twice = raw.replace('"kind": "closed"', '"kind": "closed", "kind": "received"').encode()
    got = refused(read(delivery(twice)))
    assert (got.verdict, got.kind) == ("invalid", "unknown")
    assert got.reason == (
        "not a fsi.case.event.v1 message: $.kind: a key given twice in one object; "
        "give each key once"
    )


def test_a_message_id_other_than_the_event_id_is_invalid() -> None:
    body = event()
    same = read(delivery(body, message_id=body["event_id"]))
    assert isinstance(same, Incoming)
    other = str(uuid.uuid4())
    got = refused(read(delivery(body, message_id=other)))
    assert got.verdict == "invalid"
    assert got.reason == f"message_id `{other}` is not the event's event_id"
    shaped = refused(read(delivery(body, message_id="Kari 24869023120")))
    assert shaped.reason == "message_id (no UUID) is not the event's event_id"


def test_a_wrong_field_names_its_path_and_quotes_no_value() -> None:
    got = refused(read(delivery(event(kind="Kari Nordmann"))))
    assert got.verdict == "invalid"
    assert got.reason is not None
    assert "$.kind" in got.reason
    assert "Kari" not in got.reason
    unknown = refused(read(delivery(event(fodselsnummer="24869023120"))))
    assert unknown.reason is not None
    assert "fodselsnummer" not in unknown.reason
    assert "24869023120" not in unknown.reason
    missing = refused(read(delivery(event(report_id=None))))
    assert missing.reason is not None
    assert "report_id" in missing.reason


def test_cross_field_problems_are_refused_by_path_with_the_events_ids() -> None:
    body = event(kind="returned")
    got = refused(read(delivery(body)))
    assert (got.verdict, got.kind) == ("invalid", "returned")
    assert got.event_id == uuid.UUID(body["event_id"])
    assert got.report_id == uuid.UUID(body["report_id"])
    assert got.reason is not None
    assert got.reason.startswith("$.reason is required for a returned case")
    both = refused(read(delivery(event(outcome="waiver", occurred_at="2026-11-27T12:00:00"))))
    assert both.reason is not None
    assert "$.occurred_at" in both.reason
    assert "$.outcome" in both.reason


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("oslo.vold-naere-relasjoner", "`oslo.vold-naere-relasjoner`"),
        ("Kari 24869023120", "(not a unit id)"),
        ("", "(not a unit id)"),
        (None, "(not a unit id)"),
    ],
)
def test_a_routing_key_that_is_not_the_events_unit_is_refused(key: str | None, shown: str) -> None:
    got = refused(read(delivery(event(), key=key)))
    assert got.verdict == UNIT_MISMATCH
    assert got.unit == UNIT
    assert got.reason == f"the routing key {shown} is not the event's unit `{UNIT}`"


def test_the_schema_is_judged_before_the_routing_key() -> None:
    got = refused(read(delivery(event(kind="returned"), key="elsewhere")))
    assert got.verdict == "invalid"


class Store:
    """A store that answers each event with the verdict the test named for its kind."""

    def __init__(self, answers: dict[CaseEventKind, tuple[str, Refusal | None]]) -> None:
        self.answers = answers
        self.calls: list[list[CaseEvent]] = []

    async def __call__(self, batch: Sequence[Incoming]) -> list[Outcome]:
        self.calls.append([i.event for i in batch])
        outcomes = []
        for incoming in batch:
            e = incoming.event
            verdict, refusal = self.answers[e.kind]
            message = None if refusal is None else f"{refusal} of {e.event_id}"
            case_id = None if refusal is not None else e.report_id
            outcomes.append(
                Outcome(e.event_id, e.report_id, verdict, refusal, message, case_id, None)  # type: ignore[arg-type]
            )
        return outcomes


async def test_a_batch_keeps_its_order_and_calls_the_store_once() -> None:
    store = Store(
        {
            CaseEventKind.RECEIVED: ("applied", None),
            CaseEventKind.INTERVIEW_HELD: ("repeat", None),
            CaseEventKind.RELEASED: ("refused", Refusal.NOT_HELD),
        }
    )
    released = event(kind="released")
    bodies: list[dict[str, Any] | bytes] = [
        event(),
        b"not json",
        event(kind="interview_held"),
        released,
        event(kind="received", unit="oslo.barn-og-unge"),
    ]
    verdicts = await settle(store, [delivery(b) for b in bodies])
    assert [v.verdict for v in verdicts] == [
        "applied",
        "invalid",
        "repeat",
        "not_held",
        UNIT_MISMATCH,
    ]
    assert len(store.calls) == 1
    assert [e.kind for e in store.calls[0]] == ["received", "interview_held", "released"]
    assert verdicts[3].reason == f"not_held of {released['event_id']}"
    assert verdicts[3].kind == "released"
    assert not verdicts[0].refused
    assert not verdicts[2].refused


async def test_no_store_call_when_nothing_is_readable() -> None:
    store = Store({})
    verdicts = await settle(store, [delivery(b"{}"), delivery(event(), key="x")])
    assert [v.verdict for v in verdicts] == ["invalid", UNIT_MISMATCH]
    assert store.calls == []


async def test_a_store_failure_is_raised_not_made_a_verdict() -> None:
    async def down(batch: Sequence[Incoming]) -> list[Outcome]:
        raise ConnectionRefusedError

    with pytest.raises(ConnectionRefusedError):
        await settle(down, [delivery(event())])


async def test_a_store_answering_short_is_an_error() -> None:
    async def short(batch: Sequence[Incoming]) -> list[Outcome]:
        return []

    with pytest.raises(RuntimeError, match="0 outcomes for 1 events"):
        await settle(short, [delivery(event())])


def test_every_refusal_is_a_verdict_label() -> None:
    assert set(VERDICTS) == {"applied", "repeat", UNIT_MISMATCH} | {r.value for r in Refusal}


class Faulty(Store):
    """A store that fails, as a fault some event brings would, on any batch holding a
    `released` event (ValueError), or on every batch with an outage (`down`)."""

    def __init__(self, down: Exception | None = None) -> None:
        super().__init__(
            {CaseEventKind.RECEIVED: ("applied", None), CaseEventKind.CLOSED: ("applied", None)}
        )
        self.down = down

    async def __call__(self, batch: Sequence[Incoming]) -> list[Outcome]:
        if self.down is not None:
            raise self.down
        if any(i.event.kind is CaseEventKind.RELEASED for i in batch):
            self.calls.append([i.event for i in batch])
            raise ValueError("year 1 is out of range: Kari 24869023120")
        return await super().__call__(batch)


async def test_one_event_that_fails_the_store_is_refused_alone_and_the_rest_applied() -> None:
    store = Faulty()
    bad = event(kind="released")
    bodies: list[dict[str, Any] | bytes] = [
        event(),
        bad,
        b"not json",
        event(kind="closed", outcome="dismissed"),
    ]
    verdicts = await settle_apart(store, [delivery(b) for b in bodies])
    assert [v.verdict for v in verdicts] == ["applied", "invalid", "invalid", "applied"]
    assert verdicts[1].event_id == uuid.UUID(bad["event_id"])
    assert verdicts[1].kind == "released"
    assert verdicts[1].reason == (
        "could not be applied (ValueError): the router's log has the error"
    )
    # The batch once, then each readable event on its own.
    assert [len(call) for call in store.calls] == [3, 1, 1, 1]


@pytest.mark.parametrize(
    "outage",
    [ConnectionRefusedError(), asyncpg.DeadlockDetectedError(), asyncpg.UniqueViolationError()],
)
async def test_an_outage_is_raised_for_the_whole_batch_to_come_again(outage: Exception) -> None:
    with pytest.raises(type(outage)):
        await settle_apart(Faulty(down=outage), [delivery(event()), delivery(event())])
