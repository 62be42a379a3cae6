"""What the intake stores of a report and what it answers about one: plain records, no I/O
(the store protocol in `service` and its PostgreSQL and in-memory stores share them)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass
from typing import Literal

from services.intake.cases.view import CaseFact
from services.intake.timeline import Fact


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


# Where a report is (store.PgReportStore.get_report says when each holds). `triaged`: the
# triage queue confirmed the rules' case and no work item was made for it (the router makes
# one as it records the delivery: then the report is `waiting`).
ReportStatus = Literal[
    "accepted",
    "set_aside",
    "published",
    "dead_lettered",
    "decided",
    "waiting_for_unit_queue",
    "routed",
    "triaged",
    "waiting",
    "claimed",
    "proposed",
    "closed",
    "transferred_out",
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
class Erasure:
    """When the report's personal data was erased after closure (`fsi-retention erase`,
    migration 0017): `erased_at`, the last closure of its cases the period ran from
    (`closed_at`), the period (`kept_days`), and what was blanked (`erased`: table.column
    names). The report then reads `{}`, its quality issues code and path only."""

    erased_at: dt.datetime
    closed_at: dt.datetime
    kept_days: int
    erased: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A stored report as the API shows it; JSON columns stay JSON text. `dead_letter` only
    while the status is `dead_lettered`. `report_json` and `quality_issues_json` are of the
    current `version` (1: as accepted; a correction makes the next); `decision_json` is the
    latest decision, a person's (`person_decided`, with `decided_by`) or else the rules'.
    `district` is the slug of where the report is worked (its work item's, else its
    decision's; the rules' catalogue name made a slug, as people's districts are) and
    `placed` whether it has one to say (a work item or a decision); `history` its stored
    events (`timeline.assemble` orders and shows them); `erasure` when its personal data
    was erased after closure; `cases` the cases units hold or held of it (`cases.view`)."""

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
    version: int = 1
    person_decided: bool = False
    district: str | None = None
    placed: bool = False
    history: tuple[Fact, ...] = ()
    erasure: Erasure | None = None
    cases: tuple[CaseFact, ...] = ()
