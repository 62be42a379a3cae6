"""The contract as schemas/asyncapi.json documents it: names, message type, vocabularies.

Written out here, not imported: a unit's system has only the documents. A test holds these
equal to the document."""

from __future__ import annotations

DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_PREFIX = "fsi."
DEFAULT_INTAKE_URL = "http://127.0.0.1:8000"
CONTENT_TYPE = "application/json"
CASE_EVENT_TYPE = "fsi.case.event.v1"
KINDS = (
    "received",
    "returned",
    "interview_held",
    "brought_before_court",
    "released",
    "prosecution_decision",
    "closed",
)
RETURN_REASONS = ("wrong_unit", "wrong_district", "not_for_the_police", "incomplete")
OUTCOMES = (
    "indictment",
    "summary_fine",
    "waiver",
    "mediation",
    "youth_follow_up",
    "dismissed",
    "transferred",
)
# The kinds that carry an outcome; `returned` alone carries a reason.
WITH_OUTCOME = ("prosecution_decision", "closed")


def unit_queue(prefix: str, unit: str) -> str:
    """A unit's queue: `{prefix}unit.{unit}`."""
    return f"{prefix}unit.{unit}"


def case_events_exchange(prefix: str) -> str:
    """Where units publish case events: `{prefix}case-events` (routing key = the unit)."""
    return f"{prefix}case-events"


def events_path(report_id: str) -> str:
    """The intake's door for one report's case events."""
    return f"/v1/cases/{report_id}/events"
