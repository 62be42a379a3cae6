"""The work list's rules and use cases: who may see, list, claim and release a waiting report,
decided purely from a work item row, a person and the time; the store applies them under its
row lock, so the PostgreSQL store and the tests' in-memory one refuse alike."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Protocol

import msgspec

from services.common.rules.reading import nearest
from services.common.text import quoted
from services.intake.people import Person
from services.intake.settings import TriageSettings
from services.intake.triage.model import (
    REASONS,
    Claim,
    Cursor,
    ItemRow,
    Page,
    Query,
    Refusal,
    WorkItem,
)

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The time now, UTC-aware."""
    return dt.datetime.now(dt.UTC)


# --- refusals -------------------------------------------------------------------------------


def not_on_list(report_id: uuid.UUID) -> Refusal:
    """404: no work item for the report (it never waited for a person)."""
    return Refusal(
        404,
        "not-on-work-list",
        "Not on the work list",
        f"report {report_id} is not on the work list",
    )


def other_district(district: str | None) -> Refusal:
    """403: the report (or a filter) is of a district the person does not work for."""
    return Refusal(
        403,
        "other-district",
        "Another district",
        f"district `{district}` is not one of yours",
        district=district,
    )


def not_waiting(state: str) -> Refusal:
    """409: the report is not waiting any more (`proposed` or `done`)."""
    return Refusal(
        409, "not-waiting", "Not waiting", f"the report is {state}, not waiting", state=state
    )


def claimed_by_other(row: ItemRow) -> Refusal:
    """409: someone else holds a live claim; names them (subject id) and until when."""
    assert row.lease_until is not None
    until = row.lease_until.isoformat()
    return Refusal(
        409,
        "claimed",
        "Claimed by someone else",
        f"claimed by {row.claimed_by} until {until}",
        holder=row.claimed_by,
        lease_until=until,
    )


def not_claimed_by_you() -> Refusal:
    """409: the caller holds no claim on the report (or another claim than the token's)."""
    return Refusal(
        409,
        "not-claimed-by-you",
        "Not claimed by you",
        "claim the report first (POST /v1/triage/{report_id}/claim) and send its token",
    )


def claim_lapsed(row: ItemRow) -> Refusal:
    """409: the caller's claim ran out; claiming again renews it if nobody took it since."""
    assert row.lease_until is not None
    until = row.lease_until.isoformat()
    return Refusal(
        409,
        "claim-lapsed",
        "Claim lapsed",
        f"your claim lapsed at {until}; claim the report again",
        lease_until=until,
    )


def invalid_query(path: str, message: str) -> Refusal:
    """422: a query parameter that cannot be used, named in `errors`."""
    return Refusal(
        422,
        "invalid-query",
        "Invalid query",
        f"{path}: {message}",
        errors=[{"path": path, "message": message}],
    )


def unknown_district(district: str, slugs: Collection[str]) -> Refusal:
    """422: a district filter that is no slug (a name: `Oslo` for `oslo`), nearest slugs."""
    close = nearest(district, slugs)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return invalid_query("district", f"{quoted(district)} is not a police district's slug{hint}")


# --- the rules ------------------------------------------------------------------------------


def visible(row: ItemRow | None, report_id: uuid.UUID, person: Person) -> ItemRow:
    """The row if the person may see it: 404 when none, 403 when of another district."""
    if row is None:
        raise not_on_list(report_id)
    if not person.may_see(row.district):
        raise other_district(row.district)
    return row


class ClaimStep(msgspec.Struct, frozen=True, kw_only=True):
    """What a claim does: `renew` (the holder again: same token, new lease) or a new claim
    with `token`; `lapsed` the (subject, role) of a holder whose lease ran out, released."""

    renew: bool
    token: uuid.UUID
    lease_until: dt.datetime
    lapsed: tuple[str, str] | None = None


def claim_step(
    row: ItemRow | None,
    report_id: uuid.UUID,
    person: Person,
    now: dt.datetime,
    lease: dt.timedelta,
) -> ClaimStep:
    """A claim of the report by `person` at `now` (`Refusal` 404, 403, 409 not waiting, 409
    claimed by someone else). Their own claim, lapsed or not, is renewed with its token: a
    lapsed lease nobody took since is still theirs to pick up."""
    row = visible(row, report_id, person)
    if row.state != "waiting":
        raise not_waiting(row.state)
    until = now + lease
    if row.claimed_by is None or row.claim_token is None:
        return ClaimStep(renew=False, token=uuid.uuid4(), lease_until=until)
    if row.claimed_by == person.subject:
        return ClaimStep(renew=True, token=row.claim_token, lease_until=until)
    if row.lease_live(now):
        raise claimed_by_other(row)
    lapsed = (row.claimed_by, row.claim_role or person.acting_role)
    return ClaimStep(renew=False, token=uuid.uuid4(), lease_until=until, lapsed=lapsed)


def release_step(
    row: ItemRow | None, report_id: uuid.UUID, person: Person, now: dt.datetime
) -> bool:
    """Whether the holder's release ends a lapsed lease (`Refusal` 404, 403, 409 claimed by
    someone else, 409 not claimed by you)."""
    row = visible(row, report_id, person)
    if row.claimed_by != person.subject:
        if row.claimed_by is not None and row.lease_live(now):
            raise claimed_by_other(row)
        raise not_claimed_by_you()
    return not row.lease_live(now)


def held(
    row: ItemRow | None, report_id: uuid.UUID, person: Person, token: uuid.UUID, now: dt.datetime
) -> ItemRow:
    """The row if `person` holds its live claim with `token` (`Refusal` 404, 403, 409 not
    waiting, 409 claimed by someone else, 409 not claimed by you, 409 claim lapsed)."""
    row = visible(row, report_id, person)
    if row.state != "waiting":
        raise not_waiting(row.state)
    if row.claimed_by != person.subject:
        if row.claimed_by is not None and row.lease_live(now):
            raise claimed_by_other(row)
        raise not_claimed_by_you()
    if row.claim_token != token:
        raise not_claimed_by_you()
    if not row.lease_live(now):
        raise claim_lapsed(row)
    return row


# --- the use cases --------------------------------------------------------------------------


class WorklistStore(Protocol):
    """Where the work list lives (PostgreSQL: `worklist_store.PgWorklistStore`)."""

    async def rows(self, query: Query) -> list[ItemRow]:
        """Waiting items the query selects, most urgent first: nearest deadline (none
        last), highest priority, oldest, report id; after `query.after`, at most
        `query.limit`."""
        ...

    async def quality_codes(self, rows: Sequence[ItemRow]) -> dict[uuid.UUID, list[str]]:
        """The quality issue codes of each row's version (`row.version`: 1 the report as
        accepted, else its correction), by report id, in one look-up; codes may repeat and
        come in any order; a report without issues may be left out."""
        ...

    async def claim(
        self, report_id: uuid.UUID, person: Person, now: dt.datetime, lease: dt.timedelta
    ) -> Claim:
        """`claim_step` under the row's lock, recorded (acts `released` for a lapsed holder,
        `claimed` for a new claim; `first_action_at` set on the first)."""
        ...

    async def release(self, report_id: uuid.UUID, person: Person, now: dt.datetime) -> None:
        """`release_step` under the row's lock; the claim cleared and an act `released`."""
        ...


class Worklist:
    """The work list for the handlers: a store, the settings (lease, page size), a clock."""

    def __init__(
        self, store: WorklistStore, settings: TriageSettings, clock: Clock = utc_now
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    @property
    def lease(self) -> dt.timedelta:
        """How long a claim holds from its last renewal."""
        return dt.timedelta(minutes=self.settings.lease_minutes)

    async def page(
        self,
        person: Person,
        *,
        districts: Sequence[str] = (),
        reason: str | None = None,
        source: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        known: Collection[str] | None = None,
    ) -> Page:
        """One page of what the person sees, each item with the quality issue codes of its
        version (`Refusal` 422 for a district filter not among the slugs `known` when given,
        403 for one not theirs, 422 for an unknown reason, a cursor not given by this API,
        or a limit out of 1..page size)."""
        for district in districts:
            if known is not None and district not in known:
                raise unknown_district(district, known)
            if not person.may_see(district):
                raise other_district(district)
        if reason is not None and reason not in REASONS:
            raise invalid_query("reason", f"unknown reason; one of {', '.join(REASONS)}")
        size = self.settings.page_size
        if limit is not None and not 1 <= limit <= size:
            raise invalid_query("limit", f"between 1 and {size}")
        after = None
        if cursor is not None:
            try:
                after = Cursor.decode(cursor)
            except ValueError as exc:
                raise invalid_query("cursor", str(exc)) from None
        take = limit or size
        query = Query(
            national=person.national,
            visible=person.districts,
            districts=tuple(dict.fromkeys(districts)),
            reason=reason,
            source=source,
            after=after,
            limit=take + 1,
        )
        rows = await self.store.rows(query)
        now = self.clock()
        shown = rows[:take]
        following = Cursor.after(shown[-1]).encode() if len(rows) > take else None
        # Of the version each row names, so the codes match the item's `version` even when
        # a correction commits between the two look-ups.
        codes = await self.store.quality_codes(shown) if shown else {}
        items = [WorkItem.of(row, now, codes.get(row.report_id, ())) for row in shown]
        return Page(items=items, next_cursor=following)

    async def claim(self, person: Person, report_id: uuid.UUID) -> Claim:
        """Claims or renews the report for the person (`Refusal` as `claim_step`)."""
        return await self.store.claim(report_id, person, self.clock(), self.lease)

    async def release(self, person: Person, report_id: uuid.UUID) -> None:
        """Releases the person's claim (`Refusal` as `release_step`)."""
        await self.store.release(report_id, person, self.clock())
