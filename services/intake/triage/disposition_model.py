"""What dispositions and approvals speak: the request bodies, a case a person's act sends
out, the changes to a work item, and the store they run their one transaction in."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

import msgspec
from msgspec import Meta

from schemas.decision import Decision
from schemas.report import Report
from schemas.textrules import ACCOUNT
from services.intake.people import Person
from services.intake.triage.acts import ActRow, NewAct
from services.intake.triage.model import ItemRow, Refusal

# A person's reason: free text (kept in person_acts.reason, shown to people, never logged).
Reason = Annotated[str, Meta(min_length=1, max_length=4000, pattern=ACCOUNT)]
_ACCOUNT = re.compile(ACCOUNT)


class Correct(msgspec.Struct, forbid_unknown_fields=True):
    """`POST .../correct`: the claim's token, the changes (key → value), a reason (needed
    for a downgrade)."""

    claim: uuid.UUID
    changes: dict[str, Any]
    reason: Reason | None = None


class Route(msgspec.Struct, forbid_unknown_fields=True):
    """`POST .../route`: the unit (default: the rules' suggestion), a priority and deadline
    overriding the rules' (each needs a reason)."""

    claim: uuid.UUID
    unit: str | None = None
    priority: str | None = None
    deadline_at: dt.datetime | None = None
    reason: Reason | None = None


class Target(msgspec.Struct, forbid_unknown_fields=True):
    """Where a transfer goes: one of a district (slug), a unit of the catalogue (a national
    unit such as `kripos`), or an authority outside the police with its organisation
    number."""

    district: str | None = None
    unit: str | None = None
    authority: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    organisation_number: str | None = None


class Transfer(msgspec.Struct, forbid_unknown_fields=True):
    """`POST .../transfer`: where to, and the reason (required)."""

    claim: uuid.UUID
    to: Target
    reason: Reason


class Link(msgspec.Struct, forbid_unknown_fields=True):
    """`POST .../link`: the report this one is about the same incident as."""

    claim: uuid.UUID
    report_id: uuid.UUID
    reason: Reason | None = None


class Close(msgspec.Struct, forbid_unknown_fields=True):
    """`POST .../close`: a closure ground of the catalogue and the reason (required)."""

    claim: uuid.UUID
    ground: str
    reason: Reason


class Decide(msgspec.Struct, forbid_unknown_fields=True):
    """`POST .../approve`, `.../reject`, `/v1/triage/reviews/{act_id}/reviewed`: a reason
    (required to reject)."""

    reason: Reason | None = None


def visible_reason(reason: str | None) -> str | None:
    """The reason with its surrounding white space trimmed; None for none."""
    if reason is None:
        return None
    trimmed = reason.strip()
    return trimmed if trimmed and _ACCOUNT.match(trimmed) else None


def needs_reason(why: str) -> Refusal:
    """422 naming `reason`: the act needs one (`why` says what makes it need one)."""
    return Refusal(
        422,
        "reason-required",
        "A reason is required",
        f"{why}: give a `reason`",
        errors=[{"path": "$.reason", "message": f"required: {why}"}],
    )


def invalid_field(path: str, message: str) -> Refusal:
    """422 naming the field (a JSON path) and what is wrong with it."""
    return Refusal(
        422,
        "invalid-disposition",
        "The request cannot be done as sent",
        f"{path}: {message}",
        errors=[{"path": path, "message": message}],
    )


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A report version as stored: the standardised report, its source format (`reports`)
    and when the intake received it (UTC)."""

    report: Report
    source_format: str
    received_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Place:
    """Where a report belongs, as a person's read of it places it: whether anything placed
    it yet (a work item or a decision) and the district (None: no district's)."""

    placed: bool
    district: str | None

    def seen_by(self, person: Person) -> bool:
        """Whether `person` may see the report (as `GET /v1/reports/{id}` decides): one of
        their districts, or anything for a national role; one not yet placed, national
        only."""
        return person.may_see(self.district) if self.placed else person.national


@dataclass(frozen=True, slots=True)
class Case:
    """A case a person's act sends to a unit: the decision (with `decided_by`; its act id is
    the case's id and message id), the report version it carries, the unit's district slug
    (None for a national unit) and the report's source format for the outbox row."""

    decision: Decision
    version: int
    district: str | None
    source_format: str

    @property
    def id(self) -> uuid.UUID:
        """The deciding act's id: the person decision's id and the case's message id."""
        assert self.decision.decided_by is not None
        return self.decision.decided_by.act_id


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    """A proposal waiting for a prosecutor (closure or transfer out of the police)."""

    report_id: uuid.UUID
    act_id: uuid.UUID
    kind: str
    district: str | None
    proposed_by: str
    proposed_role: str
    proposed_at: dt.datetime
    reason: str | None
    details: dict[str, Any]
    yours: bool


class Downgrade(msgspec.Struct, frozen=True, kw_only=True):
    """An act that lowered a case (a correction or a route), not yet reviewed."""

    report_id: uuid.UUID
    act_id: uuid.UUID
    kind: str
    district: str | None
    by: str
    role: str
    at: dt.datetime
    reason: str | None
    details: dict[str, Any]
    yours: bool


class Reviews(msgspec.Struct, frozen=True):
    """The prosecutors' review list of the caller's districts, oldest first."""

    proposals: list[Proposal]
    downgrades: list[Downgrade]


class DispositionTx(Protocol):
    """One transaction of a disposition (PostgreSQL: `disposition_store`; a fake in the unit
    tests). Every write happens in it; a refusal raised inside leaves nothing behind."""

    async def lock_claimed(
        self, report_id: uuid.UUID, person: Person, token: uuid.UUID, now: dt.datetime
    ) -> ItemRow:
        """The work item locked when `person` holds its live claim (`Refusal` otherwise)."""
        ...

    async def lock_item(self, report_id: uuid.UUID, person: Person) -> ItemRow:
        """The work item locked, when the person may see it (`Refusal` 404, 403)."""
        ...

    async def answer_of(self, actor: str, key: str) -> dict[str, Any] | None:
        """The response kept with `actor`'s act under `key` (None: no such act)."""
        ...

    async def report(self, report_id: uuid.UUID, version: int) -> StoredReport:
        """The report's version (1: as accepted)."""
        ...

    async def record(self, act: NewAct) -> None:
        """Insert the act."""
        ...

    async def add_version(
        self, report_id: uuid.UUID, version: int, report: Report, act_id: uuid.UUID
    ) -> None:
        """Insert a corrected report version."""
        ...

    async def add_case(self, case: Case) -> None:
        """Insert the person decision and its outbox row (`case.decided`)."""
        ...

    async def update_item(self, report_id: uuid.UUID, changes: dict[str, Any]) -> None:
        """Set work item columns (names of `work_items`), `updated_at` now."""
        ...

    async def report_place(self, report_id: uuid.UUID) -> Place | None:
        """Where the report of this id belongs (None: no report has this id)."""
        ...

    async def delivered_unit(self, report_id: uuid.UUID) -> str | None:
        """The unit of the report's latest case a unit's queue confirmed (a person's or the
        rules', never triage); None when none was."""
        ...

    async def act(self, act_id: uuid.UUID) -> ActRow | None:
        """The act of this id."""
        ...

    async def latest_proposal(self, report_id: uuid.UUID) -> uuid.UUID | None:
        """The report's latest proposal act (closure, or transfer to an authority)."""
        ...

    async def review_of(self, act_id: uuid.UUID) -> ActRow | None:
        """The `downgrade_reviewed` act of a downgrade, None when not reviewed."""
        ...


class DispositionStore(Protocol):
    """Where dispositions run: a transaction each, and the review list."""

    def transaction(self) -> AbstractAsyncContextManager[DispositionTx]:
        """A transaction; committed when the block ends, rolled back when it raises."""
        ...

    async def reviews(self, person: Person) -> Reviews:
        """Proposals waiting and downgrades not reviewed, of the districts `person` sees."""
        ...
