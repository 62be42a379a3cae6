"""Message envelopes the services exchange over RabbitMQ, with their type names."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from schemas.decision import Decision
from schemas.report import Report

REPORT_ACCEPTED_TYPE = "fsi.report.accepted.v1"
CASE_ROUTED_TYPE = "fsi.case.routed.v1"
CASE_DECIDED_TYPE = "fsi.case.decided.v1"
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


class CaseDecided(msgspec.Struct, frozen=True):
    """Intake → router: a person decided where a report goes (stored with its outbox row in
    one transaction); the router publishes the stored decision's case.

    The AMQP `message_id` is `decision_id`, and `type` is `CASE_DECIDED_TYPE`. The message is
    only a trigger: the router reads the decision and the report version it names from
    PostgreSQL.
    """

    decision_id: uuid.UUID
    report_id: uuid.UUID


class CaseRouted(msgspec.Struct, frozen=True):
    """Router → unit queue: the standardised report with its routing decision.

    The AMQP `message_id` is `report_id` for a case the rules decided, and the deciding act's
    id (`decision.decided_by.act_id`) for a case a person decided; `type` is
    `CASE_ROUTED_TYPE`. A person's case carries the report version they decided on.
    """

    report_id: uuid.UUID
    report: Report
    decision: Decision
