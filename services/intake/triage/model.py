"""The work list's typed rows and views: a work item as stored and as shown, filters, claims,
the keyset cursor, and the typed refusals every triage request may meet."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import msgspec

from services.intake import b64json

# Why a report waits (work_items.reason), in the order the page lists them.
REASONS = (
    "rule",
    "quality_issues",
    "no_district",
    "returned",
    "transferred",
    "closure_rejected",
    "transfer_rejected",
)
State = Literal["waiting", "proposed", "done"]
# work_items.priority_rank of each priority: higher is more urgent.
PRIORITY_RANK = {"critical": 3, "high": 2, "normal": 1, "low": 0}


class ItemRow(msgspec.Struct, frozen=True, kw_only=True):
    """A `work_items` row, every column (times UTC-aware; `claim_token` a UUID; `district`
    None when no district could be placed)."""

    report_id: uuid.UUID
    district: str | None
    source: str
    reason: str
    detail: str | None
    priority: str
    priority_rank: int
    deadline_at: dt.datetime | None
    received_at: dt.datetime
    waiting_since: dt.datetime
    version: int
    state: str
    claimed_by: str | None = None
    claim_role: str | None = None
    claim_token: uuid.UUID | None = None
    lease_until: dt.datetime | None = None
    first_action_at: dt.datetime | None = None
    pending_act: uuid.UUID | None = None
    outcome: str | None = None
    updated_at: dt.datetime | None = None

    def lease_live(self, now: dt.datetime) -> bool:
        """Whether someone holds a claim whose lease has not run out at `now`."""
        return self.lease_until is not None and self.lease_until > now


class ClaimView(msgspec.Struct, frozen=True):
    """Who holds a report (their subject id) and until when (UTC)."""

    holder: str
    lease_until: dt.datetime


# What the OpenAPI document says of `WorkItem.quality_issues`.
QUALITY_CODES = (
    "The distinct quality issue codes of the report's current version (`version`), sorted: "
    "e.g. `municipality.unknown`, `offence.unknown_code`; empty when it has none. Codes "
    "only: the issues' messages and paths are on the report (GET /v1/reports/{report_id})."
)


class WorkItem(msgspec.Struct, frozen=True, kw_only=True):
    """A report on the work list as the API shows it: why it waits (`reason`, `detail` a
    code such as the rule id), the quality issue codes of its current version, its priority
    and nearest deadline, its age in seconds since it was received, since when it waits,
    its version, and the live claim (None: free)."""

    report_id: uuid.UUID
    district: str | None
    source: str
    reason: str
    detail: str | None
    quality_issues: Annotated[list[str], msgspec.Meta(description=QUALITY_CODES)]
    priority: str
    deadline_at: dt.datetime | None
    received_at: dt.datetime
    age_seconds: int
    waiting_since: dt.datetime
    version: int
    claim: ClaimView | None

    @classmethod
    def of(cls, row: ItemRow, now: dt.datetime, codes: Iterable[str]) -> WorkItem:
        """The view of a row at `now` (a lapsed lease shows as no claim) with the quality
        issue `codes` of its version (repeats dropped, sorted)."""
        claim = None
        if row.claimed_by is not None and row.lease_until is not None and row.lease_live(now):
            claim = ClaimView(holder=row.claimed_by, lease_until=row.lease_until)
        return cls(
            report_id=row.report_id,
            district=row.district,
            source=row.source,
            reason=row.reason,
            detail=row.detail,
            quality_issues=sorted(set(codes)),
            priority=row.priority,
            deadline_at=row.deadline_at,
            received_at=row.received_at,
            age_seconds=max(0, int((now - row.received_at).total_seconds())),
            waiting_since=row.waiting_since,
            version=row.version,
            claim=claim,
        )


class Page(msgspec.Struct, frozen=True):
    """One page of the work list, most urgent first; `next_cursor` None on the last page."""

    items: list[WorkItem]
    next_cursor: str | None


class Claim(msgspec.Struct, frozen=True):
    """A claim as its holder gets it: the token a disposition must send and the lease's end."""

    report_id: uuid.UUID
    token: uuid.UUID
    holder: str
    lease_until: dt.datetime


class Cursor(msgspec.Struct, frozen=True, array_like=True):
    """Where a page ended: the last item's sort keys (deadline, None for none; priority
    rank; received; report id). Sent as opaque base64url text."""

    deadline_at: dt.datetime | None
    priority_rank: int
    received_at: dt.datetime
    report_id: uuid.UUID

    @classmethod
    def after(cls, row: ItemRow) -> Cursor:
        """The cursor of the page that starts after `row`."""
        return cls(row.deadline_at, row.priority_rank, row.received_at, row.report_id)

    def encode(self) -> str:
        """Base64url (no padding) of the keys as a JSON array."""
        return b64json.dumps(self)

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """The cursor of `text`; `ValueError` when it is not one this API gave."""
        try:
            cursor = b64json.loads(text, cls)
        except ValueError:
            raise ValueError("not a cursor of this work list") from None
        if cursor.received_at.tzinfo is None or (
            cursor.deadline_at is not None and cursor.deadline_at.tzinfo is None
        ):
            raise ValueError("not a cursor of this work list")
        return cursor


class Query(msgspec.Struct, frozen=True, kw_only=True):
    """What a store lists: the caller's view (`national`, or `districts` plus the reports
    with no district), the filters (districts, empty: all the caller sees; reason; source),
    where to start and how many rows at most."""

    national: bool
    visible: frozenset[str]
    districts: tuple[str, ...] = ()
    reason: str | None = None
    source: str | None = None
    after: Cursor | None = None
    limit: int = 50


class Refusal(Exception):
    """A triage request the work list refuses: HTTP `status`, a problem `slug`, `title`,
    `detail` (ids and codes only, never free text) and the problem's extension members."""

    def __init__(self, status: int, slug: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra
