"""A delivery is routed only when it carries its report exactly as the intake stored it
(`as_stored`): pure, no broker or database."""

from __future__ import annotations

import hashlib
import json
import types
import uuid
from pathlib import Path
from typing import Any, cast

import aio_pika
import pytest

from schemas.decision import Decision
from services.common.rules.engine import RoutingView
from services.routing.deliveries import (
    REPORT_DIFFERS,
    UNKNOWN_REPORT,
    Delivery,
    Refused,
    as_stored,
    read_delivery,
)
from services.routing.store import StoredReport

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "report.bicycle-theft.json"
REPORT_ID = uuid.UUID("6f1c1a52-3d0e-4b8e-9a55-2b0c1f7d9e10")


def envelope(**report: Any) -> dict[str, Any]:
    body = json.loads(EXAMPLE.read_text("utf-8")) | report
    return {
        "report_id": str(REPORT_ID),
        "accepted_at": "2026-11-26T18:43:00Z",
        "source_format": "canonical",
        "report": body,
    }


def delivery(body: bytes) -> Delivery:
    message = types.SimpleNamespace(body=body, message_id=str(REPORT_ID))
    read = read_delivery(cast(aio_pika.abc.AbstractIncomingMessage, message), 0.0)
    assert isinstance(read, Delivery), read
    return read


GENUINE = json.dumps(envelope()).encode()
FORGED = json.dumps(envelope(persons=[{"role": "suspect", "name": "Forfalsket"}])).encode()
STORED_REPORT = json.dumps(envelope()["report"], indent=2)  # as jsonb writes it: otherwise


def digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def test_the_message_the_intake_published_passes_with_the_stored_decision() -> None:
    decision = cast(Decision, object())
    got = delivery(GENUINE)
    assert as_stored(got, StoredReport(digest(GENUINE), None, decision)) is None
    assert got.decision is decision
    assert bytes(got.envelope.report) == json.dumps(envelope()["report"]).encode()


def test_a_report_not_yet_decided_passes_without_a_decision() -> None:
    got = delivery(GENUINE)
    assert as_stored(got, StoredReport(digest(GENUINE), None, None)) is None
    assert got.decision is None


@pytest.mark.parametrize(
    "body",
    [
        FORGED,
        # The same report written otherwise is still not the message the intake published.
        json.dumps(envelope(), indent=1).encode(),
        # Nor is the genuine message under another acceptance time.
        json.dumps(envelope() | {"accepted_at": "2026-11-27T00:00:00Z"}).encode(),
    ],
    ids=["other persons", "written otherwise", "other envelope"],
)
def test_a_body_that_is_not_the_published_message_is_refused(body: bytes) -> None:
    got = delivery(body)
    decision = cast(Decision, object())
    refused = as_stored(got, StoredReport(digest(GENUINE), None, decision))
    assert refused == Refused("report_differs", REPORT_DIFFERS, REPORT_ID)
    assert got.decision is None  # nothing of the stored report's is handed to it


def test_an_unknown_report_is_refused_and_named_as_nobodys() -> None:
    assert as_stored(delivery(GENUINE), None) == Refused("unknown_report", UNKNOWN_REPORT)


def test_without_a_digest_an_alike_report_passes_and_the_stored_one_goes_on() -> None:
    # The body decodes alike but is written otherwise: the stored text is what is published.
    got = delivery(json.dumps(envelope(), indent=1).encode())
    assert as_stored(got, StoredReport(None, STORED_REPORT, None)) is None
    assert bytes(got.envelope.report) == STORED_REPORT.encode()


def test_without_a_digest_a_report_that_differs_field_by_field_is_refused() -> None:
    refused = as_stored(delivery(FORGED), StoredReport(None, STORED_REPORT, None))
    assert refused == Refused("report_differs", REPORT_DIFFERS, REPORT_ID)


def test_without_a_digest_a_stored_report_that_does_not_read_is_named_not_quoted() -> None:
    stored = json.dumps(envelope(external_id=42)["report"])
    refused = as_stored(delivery(GENUINE), StoredReport(None, stored, None))
    assert refused is not None
    assert (refused.code, refused.report_id) == ("contract", REPORT_ID)
    assert refused.reason.startswith("the stored report does not read as the contract")
    assert "`$.external_id`" in refused.reason  # where, never the value
    assert "42" not in refused.reason


def test_with_nothing_to_check_against_nothing_passes() -> None:
    refused = as_stored(delivery(GENUINE), StoredReport(None, None, None))
    assert refused == Refused("report_differs", REPORT_DIFFERS, REPORT_ID)


def test_a_delivery_is_read_only_as_far_as_routing_needs() -> None:
    got = delivery(GENUINE)
    assert isinstance(got.report, RoutingView)
    assert as_stored(got, StoredReport(digest(GENUINE), None, None)) is None
    assert isinstance(got.report, RoutingView)  # the published message is not decoded again
    assert bytes(got.envelope.report) == json.dumps(envelope()["report"]).encode()


BROKEN = json.dumps(envelope(persons=[{"role": "victim", "name": ""}])).encode()


@pytest.mark.parametrize(
    "stored",
    [None, StoredReport(digest(GENUINE), None, None), StoredReport(None, None, None)],
    ids=["unknown report", "another message", "nothing to check against"],
)
def test_a_report_that_breaks_the_contract_where_routing_does_not_read_is_refused_as_such(
    stored: StoredReport | None,
) -> None:
    got = delivery(BROKEN)  # routing reads no name: the delivery reads
    refused = as_stored(got, stored)
    assert refused is not None
    assert (refused.code, refused.report_id) == ("contract", REPORT_ID)
    assert "`$.persons[0].name`" in refused.reason


def test_a_broken_report_under_another_message_id_is_refused_for_the_contract_first() -> None:
    message = types.SimpleNamespace(body=BROKEN, message_id="not-a-report-id")
    read = read_delivery(cast(aio_pika.abc.AbstractIncomingMessage, message), 0.0)
    assert isinstance(read, Refused)
    assert (read.code, read.report_id) == ("contract", REPORT_ID)
    message.body = GENUINE
    read = read_delivery(cast(aio_pika.abc.AbstractIncomingMessage, message), 0.0)
    assert read == Refused("message_id_mismatch", "message_id differs from the report id")
