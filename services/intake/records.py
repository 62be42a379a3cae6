"""What the intake stores of a report and what it answers about one: plain records, no I/O
(the store protocol in `service` and its PostgreSQL and in-memory stores share them)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass
from typing import Literal


class Outcome(enum.StrEnum):
    """What became of one submitted report."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class NewReport:
    """A standardised report ready to store, with the message that will announce it."""

    id: uuid.UUID
    client_id: str
    source: str
    external_id: str
    source_format: str
    content_hash: bytes
    raw_body: bytes
    raw_content_type: str
    report_json: str
    quality_issues_json: str
    message_type: str
    routing_key: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Stored:
    """The outcome for one report and the id it is known by."""

    outcome: Outcome
    report_id: uuid.UUID


ReportStatus = Literal[
    "accepted",
    "set_aside",
    "published",
    "dead_lettered",
    "decided",
    "waiting_for_unit_queue",
    "routed",
    "triaged",
]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Why the router dead-lettered a report: `code` (`decision_failed`: the rules or the
    router failed on it; `contract`, `undecodable`: its message could not be read;
    `report_differs`: a message under its id was not the one the intake published), `reason`
    in one line free of personal data, `at` (UTC)."""

    code: str
    reason: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A stored report as the API shows it; JSON columns stay JSON text. `dead_letter` only
    while the status is `dead_lettered`."""

    id: uuid.UUID
    client_id: str
    status: ReportStatus
    source_format: str
    received_at: dt.datetime
    published_at: dt.datetime | None
    report_json: str
    quality_issues_json: str
    decision_json: str | None
    dead_letter: DeadLetter | None = None
