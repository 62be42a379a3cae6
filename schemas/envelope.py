"""Message envelopes the services exchange over RabbitMQ, with their type names."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from schemas.decision import Decision
from schemas.report import Report

REPORT_ACCEPTED_TYPE = "fsi.report.accepted.v1"
CASE_ROUTED_TYPE = "fsi.case.routed.v1"
CONTENT_TYPE = "application/json"


class ReportAccepted(msgspec.Struct, frozen=True):
    """Intake → router: a standardised report, committed and ready to route.

    The AMQP `message_id` is `report_id`, and `type` is `REPORT_ACCEPTED_TYPE`.
    """

    report_id: uuid.UUID
    accepted_at: dt.datetime
    source_format: str
    report: Report


class ReportAcceptedWire(msgspec.Struct):
    """`ReportAccepted` as it travels: its report kept as the JSON bytes it is, so the intake
    splices in a report already encoded and the router passes it on unchanged."""

    report_id: uuid.UUID
    accepted_at: dt.datetime
    source_format: str
    report: msgspec.Raw


class CaseRouted(msgspec.Struct, frozen=True):
    """Router → unit queue: the standardised report with its routing decision.

    The AMQP `message_id` is `report_id`, and `type` is `CASE_ROUTED_TYPE`.
    """

    report_id: uuid.UUID
    report: Report
    decision: Decision
