"""Case events: what a unit reports about a case it holds (received, returned, ... closed)."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Annotated

import msgspec
from msgspec import Meta

from schemas.report import EARLIEST_YEAR, LATEST_YEAR

CASE_EVENT_TYPE = "fsi.case.event.v1"

UnitId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=100,
        pattern=r"^[a-z0-9][a-z0-9.-]*$",
        description="The unit's id in the unit catalogue, e.g. `oslo.felles-straffesaksinntak`.",
    ),
]


class CaseEventKind(enum.StrEnum):
    """What happened to a case at its unit.

    `received`: the unit took the case into its own case system. `returned`: the unit sends it
    back to the intake (wrong unit, wrong district, not for the police); it waits on the
    intake's work list again with the reason. `interview_held`: the facilitated interview
    (tilrettelagt avhør, barnehusavhør; forskrift 24.09.2015 nr. 1098). `brought_before_court`
    (fremstilling for retten, straffeprosessloven § 183) and `released` (løslatt): an arrested
    person's custody ends one way or the other. `prosecution_decision` (påtalevedtak,
    straffeprosessloven § 249 for suspects under 18) and `closed` (the case ended at the
    unit), each with its outcome.
    """

    RECEIVED = "received"
    RETURNED = "returned"
    INTERVIEW_HELD = "interview_held"
    BROUGHT_BEFORE_COURT = "brought_before_court"
    RELEASED = "released"
    PROSECUTION_DECISION = "prosecution_decision"
    CLOSED = "closed"


# The events a rule's deadline may name in `met_by`: every kind but `returned` (a return ends
# the unit's part, it meets nothing) and `received` (taking a case meets no legal deadline).
MEETING_KINDS: frozenset[CaseEventKind] = frozenset(CaseEventKind) - {
    CaseEventKind.RETURNED,
    CaseEventKind.RECEIVED,
}


class ReturnReason(enum.StrEnum):
    """Why a unit returns a case to the intake (a code: no free text travels back)."""

    WRONG_UNIT = "wrong_unit"
    WRONG_DISTRICT = "wrong_district"
    NOT_FOR_THE_POLICE = "not_for_the_police"
    INCOMPLETE = "incomplete"


class CaseOutcome(enum.StrEnum):
    """The outcome a `prosecution_decision` or `closed` event carries.

    Named from background knowledge of Norwegian criminal procedure (straffeprosessloven);
    STRASAK's own outcome codes are not public, so these codes are this project's own:
    `indictment` (tiltale, § 250), `summary_fine` (forelegg, § 255), `waiver` (påtaleunnlatelse,
    § 69), `mediation` (overføring til konfliktråd, § 71 a), `youth_follow_up`
    (ungdomsoppfølging, § 71 a), `dismissed` (henleggelse, the ground in the unit's own
    system), `transferred` (sent to another authority or district, closing it here).
    """

    INDICTMENT = "indictment"
    SUMMARY_FINE = "summary_fine"
    WAIVER = "waiver"
    MEDIATION = "mediation"
    YOUTH_FOLLOW_UP = "youth_follow_up"
    DISMISSED = "dismissed"
    TRANSFERRED = "transferred"


class CaseEventBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A case event as a unit posts it over HTTP (`POST /v1/cases/{report_id}/events`: the
    report id is in the path).

    `event_id` is the unit's own id for the event: the same id again is applied once (a
    repeat); the same id with other content is a conflict. `occurred_at` is when it happened
    at the unit, with an offset (UTC is stored); it may not lie in the future. `reason` is
    required for `returned` and allowed only there; `outcome` is required for
    `prosecution_decision` and `closed` and allowed only there.
    """

    event_id: uuid.UUID
    unit: UnitId
    kind: CaseEventKind
    occurred_at: dt.datetime
    reason: ReturnReason | None = None
    outcome: CaseOutcome | None = None


class CaseEvent(CaseEventBody, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A case event as a unit publishes it over AMQP: the body of `CaseEventBody` with the
    report it is about.

    Published to the case-events exchange with the unit's id as the routing key (the broker's
    topic permissions let a unit's user publish under its own key only), `message_id` =
    `event_id`, `type` = `CASE_EVENT_TYPE`, content type `application/json`.
    """

    report_id: uuid.UUID

    @classmethod
    def of(cls, report_id: uuid.UUID, body: CaseEventBody) -> CaseEvent:
        """The event a posted body and its path's report id make."""
        return cls(
            report_id=report_id,
            event_id=body.event_id,
            unit=body.unit,
            kind=body.kind,
            occurred_at=body.occurred_at,
            reason=body.reason,
            outcome=body.outcome,
        )


def field_problems(event: CaseEventBody) -> list[tuple[str, str]]:
    """The cross-field rules the types cannot say, as (JSON path, message) pairs; empty when
    the event is well formed. Pure: no clock (a time in the future is judged where the
    clock is)."""
    problems: list[tuple[str, str]] = []
    if event.occurred_at.tzinfo is None:
        problems.append(("$.occurred_at", "must carry an offset, e.g. 2026-12-01T10:00:00+01:00"))
    elif not _within_years(event.occurred_at):
        problems.append(
            ("$.occurred_at", f"must lie between {EARLIEST_YEAR} and {LATEST_YEAR} (UTC)")
        )
    if event.kind is CaseEventKind.RETURNED and event.reason is None:
        problems.append(("$.reason", "is required for a returned case: " + _allowed(ReturnReason)))
    if event.kind is not CaseEventKind.RETURNED and event.reason is not None:
        problems.append(("$.reason", f"is only for `returned`, not `{event.kind}`"))
    needs_outcome = event.kind in (CaseEventKind.PROSECUTION_DECISION, CaseEventKind.CLOSED)
    if needs_outcome and event.outcome is None:
        problems.append(("$.outcome", f"is required for `{event.kind}`: " + _allowed(CaseOutcome)))
    if not needs_outcome and event.outcome is not None:
        problems.append(
            ("$.outcome", f"is only for `prosecution_decision` and `closed`, not `{event.kind}`")
        )
    return problems


def _within_years(at: dt.datetime) -> bool:
    """Whether a time with an offset lies in the years a report's times may (a typing error
    otherwise: year 1 even overflows when moved to UTC, and PostgreSQL would store it as
    -infinity)."""
    try:
        return EARLIEST_YEAR <= at.astimezone(dt.UTC).year <= LATEST_YEAR
    except OverflowError:
        return False


def _allowed(kind: type[enum.StrEnum]) -> str:
    return "one of " + ", ".join(f"`{m.value}`" for m in kind)
