"""The relay's message of an outbox row: the report's id, or the person's decision's."""

from __future__ import annotations

import uuid

from schemas.envelope import CASE_DECIDED_TYPE, REPORT_ACCEPTED_TYPE
from services.intake.outbox import message_for
from services.intake.outbox_store import Claimed

REPORT = uuid.UUID("0b9d0c4e-7d5e-4a0e-9a51-0d7f3c2b1a10")
DECISION = uuid.UUID("5f0e8a51-2c3b-4d6e-8f71-9a0b1c2d3e4f")


def row(decision_id: uuid.UUID | None, message_type: str) -> Claimed:
    return Claimed(1, REPORT, message_type, "k", b"{}", "nettanmeldelse", 1, decision_id)


def test_a_reports_row_is_sent_under_the_report_id() -> None:
    message = message_for(row(None, REPORT_ACCEPTED_TYPE))
    assert message.message_id == str(REPORT)
    assert message.type == REPORT_ACCEPTED_TYPE


def test_a_decisions_row_is_sent_under_the_decision_id() -> None:
    message = message_for(row(DECISION, CASE_DECIDED_TYPE))
    assert message.message_id == str(DECISION)
    assert message.type == CASE_DECIDED_TYPE
    assert message.headers == {"x-fsi-source-format": "nettanmeldelse"}
