"""The work list's use cases over the in-memory store: order, paging, filters, visibility,
claims (conflicts, renewal, lapsed leases) and releases."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import msgspec
import pytest

from schemas.report import QualityIssue
from services.intake.people import Person, PersonRole
from services.intake.settings import TriageSettings
from services.intake.triage.model import PRIORITY_RANK, Cursor, ItemRow, Refusal
from services.intake.triage.worklist import Worklist, held
from tests.unit.intake.triage.fakes import MemoryWorklistStore

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
ANNE = Person("anne", frozenset({PersonRole.ASSESSOR}), frozenset({"oslo"}))
PER = Person("per", frozenset({PersonRole.ASSESSOR}), frozenset({"vest"}))
PIA = Person("pia", frozenset({PersonRole.PROSECUTOR}), frozenset({"oslo"}))
NINA = Person("nina", frozenset({PersonRole.PROSECUTOR}), national=True)


def item(
    *,
    district: str | None = "oslo",
    deadline_hours: float | None = None,
    priority: str = "normal",
    received_minutes_ago: float = 10,
    reason: str = "rule",
    source: str = "citizen",
    state: str = "waiting",
    report_id: uuid.UUID | None = None,
) -> ItemRow:
    received = T0 - dt.timedelta(minutes=received_minutes_ago)
    return ItemRow(
        report_id=report_id or uuid.uuid4(),
        district=district,
        source=source,
        reason=reason,
        detail="r-default" if reason == "rule" else None,
        priority=priority,
        priority_rank=PRIORITY_RANK[priority],
        deadline_at=None if deadline_hours is None else T0 + dt.timedelta(hours=deadline_hours),
        received_at=received,
        waiting_since=received,
        version=1,
        state=state,
    )


class Clock:
    """A clock a test moves."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def worklist(
    rows: list[ItemRow], page_size: int = 50
) -> tuple[Worklist, MemoryWorklistStore, Clock]:
    store = MemoryWorklistStore(rows)
    clock = Clock()
    settings = TriageSettings(lease_minutes=15, page_size=page_size)
    return Worklist(store, settings, clock), store, clock


async def test_most_urgent_first_deadline_then_priority_then_age() -> None:
    rows = {
        "a": item(deadline_hours=2, priority="low", received_minutes_ago=10),
        "b": item(deadline_hours=2, priority="critical", received_minutes_ago=5),
        "c": item(deadline_hours=1, priority="normal", received_minutes_ago=1),
        "d": item(priority="critical", received_minutes_ago=60),
        "e": item(priority="critical", received_minutes_ago=30),
        "f": item(deadline_hours=2, priority="critical", received_minutes_ago=20),
        "g": item(priority="low", received_minutes_ago=90),
    }
    names = {row.report_id: name for name, row in rows.items()}
    work, _, _ = worklist(list(rows.values()))
    page = await work.page(ANNE)
    # Nearest deadline first, none last; among equal deadlines the higher priority, then
    # the older report.
    assert [names[i.report_id] for i in page.items] == ["c", "f", "b", "a", "d", "e", "g"]
    assert page.next_cursor is None
    first = page.items[0]
    assert first.age_seconds == 60
    assert first.deadline_at == T0 + dt.timedelta(hours=1)
    assert first.claim is None


async def test_cursor_pages_have_no_repeats_and_no_gaps() -> None:
    rng = random.Random(14)
    rows = [
        item(
            deadline_hours=rng.choice([None, 1, 2]),
            priority=rng.choice(["critical", "normal", "low"]),
            # Few distinct times: many rows tie on every key but the report id.
            received_minutes_ago=rng.choice([5, 10]),
            district=rng.choice(["oslo", None]),
        )
        for _ in range(23)
    ]
    work, _, _ = worklist(rows, page_size=4)
    seen: list[uuid.UUID] = []
    cursor = None
    pages = 0
    while True:
        page = await work.page(ANNE, cursor=cursor)
        pages += 1
        assert 1 <= len(page.items) <= 4
        seen += [i.report_id for i in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert pages == 6  # 23 rows, 4 a page
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == {row.report_id for row in rows}
    whole, _, _ = worklist(rows, page_size=50)
    assert [i.report_id for i in (await whole.page(ANNE)).items] == seen


async def test_a_smaller_limit_pages_within_the_page_size() -> None:
    work, _, _ = worklist([item() for _ in range(3)], page_size=5)
    page = await work.page(ANNE, limit=2)
    assert len(page.items) == 2
    assert page.next_cursor is not None
    rest = await work.page(ANNE, limit=2, cursor=page.next_cursor)
    assert len(rest.items) == 1
    assert rest.next_cursor is None
    with pytest.raises(Refusal) as refused:
        await work.page(ANNE, limit=6)
    assert refused.value.status == 422
    assert refused.value.extra["errors"][0]["path"] == "limit"


async def test_each_person_sees_their_districts_and_the_unplaced() -> None:
    oslo, vest, nowhere = item(district="oslo"), item(district="vest"), item(district=None)
    work, _, _ = worklist([oslo, vest, nowhere])
    ids = {oslo.report_id: "oslo", vest.report_id: "vest", nowhere.report_id: None}
    seen = {
        p.subject: {ids[i.report_id] for i in (await work.page(p)).items} for p in (ANNE, PER, NINA)
    }
    assert seen == {"anne": {"oslo", None}, "per": {"vest", None}, "nina": {"oslo", "vest", None}}


async def test_filters_by_district_reason_and_source() -> None:
    rows = [
        item(district="oslo", reason="rule", source="citizen"),
        item(district="oslo", reason="quality_issues", source="patrol"),
        item(district="vest", reason="quality_issues", source="citizen"),
        item(district="innlandet", reason="transferred", source="agency"),
        item(district=None, reason="no_district", source="citizen"),
    ]
    work, _, _ = worklist(rows)

    async def districts(**filters: object) -> list[str]:
        page = await work.page(NINA, **filters)  # type: ignore[arg-type]
        return sorted(i.district or "-" for i in page.items)

    assert await districts(districts=["oslo", "vest"]) == ["oslo", "oslo", "vest"]
    assert await districts(reason="quality_issues") == ["oslo", "vest"]
    assert await districts(source="citizen") == ["-", "oslo", "vest"]
    assert await districts(districts=["oslo"], reason="quality_issues", source="patrol") == ["oslo"]
    assert await districts(reason="returned") == []


async def test_a_district_filter_not_yours_is_refused_by_name() -> None:
    work, _, _ = worklist([item(district="vest")])
    with pytest.raises(Refusal) as refused:
        await work.page(ANNE, districts=["oslo", "vest"])
    assert refused.value.status == 403
    assert refused.value.extra == {"district": "vest"}
    assert "vest" in refused.value.detail


async def test_an_unknown_reason_lists_the_allowed_ones() -> None:
    work, _, _ = worklist([])
    with pytest.raises(Refusal) as refused:
        await work.page(ANNE, reason="lazy")
    assert refused.value.status == 422
    for reason in ("rule", "quality_issues", "no_district", "returned", "transferred"):
        assert reason in refused.value.detail


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !",
        "bm90IGpzb24",  # base64url of `not json`
        Cursor(None, 1, T0, uuid.uuid4()).encode()[:-3],
        # A naive time where the API always writes one with an offset.
        "WyIyMDI2LTEyLTAxVDA4OjAwOjAwIiwxLCIyMDI2LTEyLTAxVDA4OjAwOjAwIiwiMDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwIl0",
    ],
)
async def test_a_cursor_not_of_this_api_is_refused(cursor: str) -> None:
    work, _, _ = worklist([item()])
    with pytest.raises(Refusal) as refused:
        await work.page(ANNE, cursor=cursor)
    assert refused.value.status == 422
    assert refused.value.extra["errors"][0]["path"] == "cursor"


def test_a_cursor_survives_its_text() -> None:
    cursor = Cursor(None, 3, T0, uuid.uuid4())
    text = cursor.encode()
    assert "=" not in text
    assert "+" not in text
    assert "/" not in text
    assert Cursor.decode(text) == cursor
    dated = Cursor(T0 + dt.timedelta(hours=1), 0, T0, uuid.uuid4())
    assert Cursor.decode(dated.encode()) == dated


async def test_a_claim_gives_a_token_and_a_lease_and_is_recorded() -> None:
    row = item()
    work, store, _ = worklist([row])
    claim = await work.claim(ANNE, row.report_id)
    assert claim.holder == "anne"
    assert claim.lease_until == T0 + dt.timedelta(minutes=15)
    assert [(a.kind, a.actor, a.actor_role) for a in store.acts] == [
        ("claimed", "anne", "assessor")
    ]
    assert store.acts[0].details == {"token": claim.token, "lease_until": claim.lease_until}
    assert store.items[row.report_id].first_action_at == T0
    shown = (await work.page(ANNE)).items[0]
    assert shown.claim is not None
    assert shown.claim.holder == "anne"


async def test_a_second_claimant_is_told_who_holds_it_until_when() -> None:
    row = item()
    work, store, clock = worklist([row])
    await work.claim(ANNE, row.report_id)
    clock.now += dt.timedelta(minutes=14)
    with pytest.raises(Refusal) as refused:
        await work.claim(PIA, row.report_id)
    assert refused.value.status == 409
    until = (T0 + dt.timedelta(minutes=15)).isoformat()
    assert refused.value.extra == {"holder": "anne", "lease_until": until}
    assert len(store.acts) == 1


async def test_the_holder_claiming_again_renews_with_the_same_token() -> None:
    row = item()
    work, store, clock = worklist([row])
    first = await work.claim(ANNE, row.report_id)
    clock.now += dt.timedelta(minutes=10)
    again = await work.claim(ANNE, row.report_id)
    assert again.token == first.token
    assert again.lease_until == T0 + dt.timedelta(minutes=25)
    # A renewal is no new act.
    assert [a.kind for a in store.acts] == ["claimed"]
    assert store.items[row.report_id].first_action_at == T0


async def test_a_lapsed_lease_goes_to_the_next_claimant_and_the_lapse_is_recorded() -> None:
    row = item()
    work, store, clock = worklist([row])
    first = await work.claim(ANNE, row.report_id)
    clock.now += dt.timedelta(minutes=15)  # the lease ends exactly now: lapsed
    second = await work.claim(PIA, row.report_id)
    assert second.holder == "pia"
    assert second.token != first.token
    assert [(a.kind, a.actor, a.actor_role, a.details.get("lapsed")) for a in store.acts] == [
        ("claimed", "anne", "assessor", None),
        ("released", "anne", "assessor", True),
        ("claimed", "pia", "prosecutor", None),
    ]
    # The first action stays the first claim's.
    assert store.items[row.report_id].first_action_at == T0
    # Anne's old token no longer holds the report.
    with pytest.raises(Refusal) as refused:
        held(store.items[row.report_id], row.report_id, ANNE, first.token, clock.now)
    assert refused.value.slug == "claimed"
    assert refused.value.extra["holder"] == "pia"


async def test_claims_refused_for_what_is_not_yours_or_not_waiting() -> None:
    vest, proposed = item(district="vest"), item(state="proposed")
    work, store, _ = worklist([vest, proposed])
    cases = [(vest.report_id, 403, "other-district"), (proposed.report_id, 409, "not-waiting")]
    cases.append((uuid.uuid4(), 404, "not-on-work-list"))
    for report_id, status, slug in cases:
        with pytest.raises(Refusal) as refused:
            await work.claim(ANNE, report_id)
        assert (refused.value.status, refused.value.slug) == (status, slug)
    assert store.acts == []
    with pytest.raises(Refusal) as refused:
        await work.claim(ANNE, proposed.report_id)
    assert refused.value.extra == {"state": "proposed"}
    # A national role may claim in every district.
    assert (await work.claim(NINA, vest.report_id)).holder == "nina"


async def test_release_by_the_holder_frees_the_report() -> None:
    row = item()
    work, store, _ = worklist([row])
    await work.claim(ANNE, row.report_id)
    await work.release(ANNE, row.report_id)
    assert store.items[row.report_id].claimed_by is None
    assert store.acts[-1].kind == "released"
    assert store.acts[-1].details == {"lapsed": False}
    assert (await work.claim(PIA, row.report_id)).holder == "pia"


async def test_release_by_anyone_but_the_holder_is_refused() -> None:
    row, free = item(), item()
    work, store, _ = worklist([row, free])
    await work.claim(ANNE, row.report_id)
    with pytest.raises(Refusal) as refused:
        await work.release(PIA, row.report_id)
    assert (refused.value.status, refused.value.extra["holder"]) == (409, "anne")
    with pytest.raises(Refusal) as refused:
        await work.release(PIA, free.report_id)
    assert (refused.value.status, refused.value.slug) == (409, "not-claimed-by-you")
    assert store.items[row.report_id].claimed_by == "anne"
    assert [a.kind for a in store.acts] == ["claimed"]


async def test_held_names_each_reason_a_claim_does_not_hold() -> None:
    row = item()
    work, store, clock = worklist([row])
    claim = await work.claim(ANNE, row.report_id)
    current = store.items[row.report_id]
    assert held(current, row.report_id, ANNE, claim.token, clock.now) == current

    def slug(person: Person, token: uuid.UUID, at: dt.datetime, r: ItemRow = current) -> str:
        with pytest.raises(Refusal) as refused:
            held(r, row.report_id, person, token, at)
        return refused.value.slug

    later = clock.now + dt.timedelta(minutes=16)
    assert slug(ANNE, uuid.uuid4(), clock.now) == "not-claimed-by-you"
    assert slug(ANNE, claim.token, later) == "claim-lapsed"
    assert slug(PIA, claim.token, clock.now) == "claimed"
    assert slug(PIA, claim.token, later) == "not-claimed-by-you"
    assert slug(PER, claim.token, clock.now) == "other-district"
    done = msgspec.structs.replace(current, state="done")
    assert slug(ANNE, claim.token, clock.now, done) == "not-waiting"


def test_a_lapsed_claim_shows_as_free() -> None:
    from services.intake.triage.model import WorkItem

    row = msgspec.structs.replace(
        item(), claimed_by="anne", claim_role="assessor", claim_token=uuid.uuid4(), lease_until=T0
    )
    assert WorkItem.of(row, T0, ()).claim is None
    live = WorkItem.of(row, T0 - dt.timedelta(seconds=1), ()).claim
    assert live is not None
    assert live.holder == "anne"


def issue(code: str, path: str) -> QualityIssue:
    return QualityIssue(code=code, path=path, message=f"{path}: Kari Nordmann, 0301 Oslo")


async def test_items_name_the_distinct_issue_codes_of_their_current_version() -> None:
    accepted = item(reason="quality_issues", received_minutes_ago=30)
    corrected = msgspec.structs.replace(
        item(reason="quality_issues", received_minutes_ago=20), version=2
    )
    clean = item(received_minutes_ago=10)
    wl, store, _ = worklist([accepted, corrected, clean])
    store.issues[(accepted.report_id, 1)] = [
        issue("offence.unknown_code", "$.offences[1].code"),
        issue("municipality.unknown", "$.incident.municipality"),
        issue("offence.unknown_code", "$.offences[0].code"),
    ]
    # The corrected report's first version had two issues; the correction left one.
    store.issues[(corrected.report_id, 1)] = [
        issue("municipality.unknown", "$.incident.municipality"),
        issue("phone.invalid", "$.persons[0].phone"),
    ]
    store.issues[(corrected.report_id, 2)] = [issue("phone.invalid", "$.persons[0].phone")]

    page = await wl.page(ANNE)

    codes = {i.report_id: i.quality_issues for i in page.items}
    assert codes == {
        accepted.report_id: ["municipality.unknown", "offence.unknown_code"],
        corrected.report_id: ["phone.invalid"],
        clean.report_id: [],
    }
    # Codes only: neither the issues' messages nor their paths reach the list.
    shown = msgspec.json.encode(page).decode()
    assert "Kari" not in shown
    assert "$.persons" not in shown


async def test_the_codes_are_looked_up_once_for_the_rows_shown_only() -> None:
    rows = [item(received_minutes_ago=m) for m in (40, 30, 20)]
    wl, store, _ = worklist(rows, page_size=2)

    first = await wl.page(ANNE)
    empty = await wl.page(ANNE, reason="returned")

    # One look-up for the page's two rows, not the third fetched to know a next page exists;
    # none for an empty page.
    assert store.code_lookups == [[r.report_id for r in rows[:2]]]
    assert [i.report_id for i in first.items] == [r.report_id for r in rows[:2]]
    assert (empty.items, empty.next_cursor) == ([], None)
