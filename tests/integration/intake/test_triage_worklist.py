"""The work list against the real PostgreSQL: its order and pages as the SQL gives them,
who sees and may claim what, claims and releases recorded as acts, lapsed leases, two claims
at once, and a disposition's lock on a claimed item."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from services.intake.triage.model import PRIORITY_RANK, Refusal
from services.intake.triage.worklist_store import lock_claimed, record_act
from tests.integration.intake import triage_support
from tests.integration.intake.triage_support import PEOPLE, app, bearer

__all__ = ["app"]  # fixture

PROBLEMS = "https://fsi-intake.politiet.example/problems/"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _now() -> None:
    """NOW as each test starts: ages and leases are read against the intake's own clock, and
    the suite may reach this module many minutes after collecting it."""
    global NOW  # read by the helpers at each call
    NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


async def waiting(
    conn: asyncpg.Connection,
    *,
    district: str | None = "oslo",
    deadline_hours: float | None = None,
    priority: str = "normal",
    received_minutes_ago: float = 10,
    reason: str = "rule",
    source: str = "citizen",
    report_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """A report and its waiting work item, as the router leaves them."""
    report_id = report_id or uuid.uuid4()
    received = NOW - dt.timedelta(minutes=received_minutes_ago)
    await conn.execute(
        "INSERT INTO reports (id, client_id, source, external_id, source_format, content_hash,"
        " raw_body, raw_content_type, report, received_at) VALUES ($1, 'c', $2, $3,"
        " 'canonical', '\\x00', '\\x00', 'application/json', '{}', $4)",
        report_id,
        source,
        report_id.hex,
        received,
    )
    await conn.execute(
        "INSERT INTO work_items (report_id, district, source, reason, detail, priority,"
        " priority_rank, deadline_at, received_at, waiting_since)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        report_id,
        district,
        source,
        reason,
        "r-oslo-default" if reason == "rule" else None,
        priority,
        PRIORITY_RANK[priority],
        None if deadline_hours is None else NOW + dt.timedelta(hours=deadline_hours),
        received,
    )
    return report_id


async def all_pages(client: AsyncTestClient[Any], who: str, query: str) -> list[str]:
    ids: list[str] = []
    url = f"/v1/triage?{query}"
    while True:
        answer = await client.get(url, headers=bearer(who))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        ids += [item["report_id"] for item in body["items"]]
        if body["next_cursor"] is None:
            return ids
        url = f"/v1/triage?{query}&cursor={body['next_cursor']}"


async def test_the_list_is_most_urgent_first_across_pages(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    tie = uuid.UUID(int=1), uuid.UUID(int=2)
    named = {
        "a": await waiting(owner, deadline_hours=2, priority="low", received_minutes_ago=10),
        "b": await waiting(owner, deadline_hours=2, priority="critical", received_minutes_ago=5),
        "c": await waiting(owner, deadline_hours=1, priority="normal", received_minutes_ago=1),
        "d": await waiting(owner, priority="critical", received_minutes_ago=60),
        # Equal in deadline, priority and age: the report id decides.
        "e2": await waiting(owner, priority="critical", received_minutes_ago=30, report_id=tie[1]),
        "e1": await waiting(owner, priority="critical", received_minutes_ago=30, report_id=tie[0]),
        "f": await waiting(owner, deadline_hours=2, priority="critical", received_minutes_ago=20),
        "g": await waiting(owner, district=None, priority="low", received_minutes_ago=90),
        "vest": await waiting(owner, district="vest", deadline_hours=0.5),
    }
    names = {str(v): k for k, v in named.items()}
    for limit in (1, 2, 3, 50):
        ids = await all_pages(app, "anne", f"limit={limit}")
        assert [names[i] for i in ids] == ["c", "f", "b", "a", "d", "e1", "e2", "g"]
    nina = [names[i] for i in await all_pages(app, "nina", "limit=4")]
    assert nina == ["vest", "c", "f", "b", "a", "d", "e1", "e2", "g"]
    first = (await app.get("/v1/triage?limit=1", headers=bearer("anne"))).json()["items"][0]
    assert first["reason"] == "rule"
    assert first["detail"] == "r-oslo-default"
    assert first["priority"] == "normal"
    assert 60 <= first["age_seconds"] < 600
    assert first["claim"] is None


async def test_filters_and_who_may_filter_what(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    oslo = await waiting(owner, district="oslo", reason="quality_issues", source="patrol")
    vest = await waiting(owner, district="vest", reason="transferred", source="citizen")
    nowhere = await waiting(owner, district=None, reason="no_district", source="citizen")

    async def ids(who: str, query: str) -> set[uuid.UUID]:
        return {uuid.UUID(i) for i in await all_pages(app, who, query)}

    assert await ids("nina", "district=oslo&district=vest") == {oslo, vest}
    assert await ids("nina", "reason=no_district") == {nowhere}
    assert await ids("nina", "source=citizen") == {vest, nowhere}
    assert await ids("per", "") == {vest, nowhere}
    refused = await app.get("/v1/triage?district=oslo&district=vest", headers=bearer("anne"))
    assert refused.status_code == 403
    assert refused.json()["type"] == PROBLEMS + "other-district"
    assert refused.json()["district"] == "vest"
    unknown = await app.get("/v1/triage?reason=lazy", headers=bearer("anne"))
    assert unknown.status_code == 422
    assert "quality_issues" in unknown.json()["detail"]
    assert unknown.json()["errors"] == [
        {"path": "reason", "message": unknown.json()["detail"].removeprefix("reason: ")}
    ]
    assert (await app.get("/v1/triage")).status_code == 401
    assert (await app.get("/v1/triage", headers=bearer("ola"))).status_code == 403
    assert (await app.get("/v1/triage?limit=51", headers=bearer("anne"))).status_code == 422
    assert (await app.get("/v1/triage?cursor=xyz", headers=bearer("anne"))).status_code == 422


async def acts(conn: asyncpg.Connection, report_id: uuid.UUID) -> list[tuple[str, str, str, str]]:
    rows = await conn.fetch(
        "SELECT kind, actor, actor_role, details::text FROM person_acts"
        " WHERE report_id = $1 ORDER BY acted_at",
        report_id,
    )
    return [(r["kind"], r["actor"], r["actor_role"], r["details"]) for r in rows]


async def test_claim_conflict_release_and_the_acts_recorded(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report = await waiting(owner)
    claimed = await app.post(f"/v1/triage/{report}/claim", headers=bearer("anne"))
    assert claimed.status_code == 200, claimed.text
    claim = claimed.json()
    assert claim["holder"] == "anne"
    assert claim["report_id"] == str(report)
    until = dt.datetime.fromisoformat(claim["lease_until"])
    assert dt.timedelta(minutes=14) < until - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=15)

    other = await app.post(f"/v1/triage/{report}/claim", headers=bearer("pia"))
    assert other.status_code == 409
    problem = other.json()
    assert problem["type"] == PROBLEMS + "claimed"
    assert problem["holder"] == "anne"
    assert dt.datetime.fromisoformat(problem["lease_until"]) == until

    renewed = (await app.post(f"/v1/triage/{report}/claim", headers=bearer("anne"))).json()
    assert renewed["token"] == claim["token"]
    assert dt.datetime.fromisoformat(renewed["lease_until"]) >= until

    listed = (await app.get("/v1/triage", headers=bearer("pia"))).json()["items"][0]
    assert listed["claim"]["holder"] == "anne"

    not_yours = await app.delete(f"/v1/triage/{report}/claim", headers=bearer("pia"))
    assert not_yours.status_code == 409
    assert not_yours.json()["holder"] == "anne"
    released = await app.delete(f"/v1/triage/{report}/claim", headers=bearer("anne"))
    assert released.status_code == 204
    row = await owner.fetchrow("SELECT * FROM work_items WHERE report_id = $1", report)
    assert row["claimed_by"] is None
    assert row["claim_token"] is None
    assert row["first_action_at"] is not None
    assert [a[:3] for a in await acts(owner, report)] == [
        ("claimed", "anne", "assessor"),
        ("released", "anne", "assessor"),
    ]
    recorded = await acts(owner, report)
    assert f'"token": "{claim["token"]}"' in recorded[0][3]
    assert recorded[1][3] == '{"lapsed": false}'


async def test_a_lapsed_lease_is_free_for_the_next_and_recorded_as_lapsed(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report = await waiting(owner)
    first = (await app.post(f"/v1/triage/{report}/claim", headers=bearer("anne"))).json()
    await owner.execute(
        "UPDATE work_items SET lease_until = now() - interval '1 second' WHERE report_id = $1",
        report,
    )
    taken = await app.post(f"/v1/triage/{report}/claim", headers=bearer("pia"))
    assert taken.status_code == 200
    assert taken.json()["holder"] == "pia"
    assert taken.json()["token"] != first["token"]
    assert [(k, a, r) for k, a, r, _ in await acts(owner, report)] == [
        ("claimed", "anne", "assessor"),
        ("released", "anne", "assessor"),
        ("claimed", "pia", "prosecutor"),
    ]
    assert (await acts(owner, report))[1][3] == '{"lapsed": true}'


async def test_claims_of_what_is_not_yours_or_not_waiting(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    vest = await waiting(owner, district="vest")
    done = await waiting(owner)
    await owner.execute("UPDATE work_items SET state = 'done' WHERE report_id = $1", done)
    answers = {
        "vest": await app.post(f"/v1/triage/{vest}/claim", headers=bearer("anne")),
        "done": await app.post(f"/v1/triage/{done}/claim", headers=bearer("anne")),
        "none": await app.post(f"/v1/triage/{uuid.uuid4()}/claim", headers=bearer("anne")),
    }
    assert {k: (v.status_code, v.json()["type"]) for k, v in answers.items()} == {
        "vest": (403, PROBLEMS + "other-district"),
        "done": (409, PROBLEMS + "not-waiting"),
        "none": (404, PROBLEMS + "not-on-work-list"),
    }
    assert answers["done"].json()["state"] == "done"
    assert await owner.fetchval("SELECT count(*) FROM person_acts") == 0


async def test_two_claims_at_once_one_wins(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    for _ in range(5):
        report = await waiting(owner)
        answers = await asyncio.gather(
            app.post(f"/v1/triage/{report}/claim", headers=bearer("anne")),
            app.post(f"/v1/triage/{report}/claim", headers=bearer("pia")),
        )
        assert sorted(a.status_code for a in answers) == [200, 409]
        winner = next(a for a in answers if a.status_code == 200).json()["holder"]
        loser = next(a for a in answers if a.status_code == 409).json()
        assert loser["holder"] == winner
        assert [a[0] for a in await acts(owner, report)] == ["claimed"]


async def test_lock_claimed_holds_the_row_for_the_disposition(
    intake_database_url: str, owner: asyncpg.Connection
) -> None:
    report = await waiting(owner)
    anne, pia = PEOPLE["anne"], PEOPLE["pia"]
    first = await asyncpg.connect(intake_database_url)
    second = await asyncpg.connect(intake_database_url)
    try:
        token = uuid.uuid4()
        until = NOW + dt.timedelta(minutes=15)
        async with first.transaction():
            await record_act(
                first,
                report_id=report,
                kind="claimed",
                actor="anne",
                actor_role="assessor",
                details={"token": token, "lease_until": until},
            )
            await first.execute(
                "UPDATE work_items SET claimed_by = 'anne', claim_role = 'assessor',"
                " claim_token = $2, lease_until = $3 WHERE report_id = $1",
                report,
                token,
                until,
            )
        now = dt.datetime.now(dt.UTC)
        with pytest.raises(Refusal) as refused:
            async with first.transaction():
                await lock_claimed(first, report, anne, uuid.uuid4(), now)
        assert refused.value.slug == "not-claimed-by-you"
        with pytest.raises(Refusal) as refused:
            async with first.transaction():
                await lock_claimed(first, report, pia, token, now)
        assert refused.value.extra["holder"] == "anne"
        async with first.transaction():
            row = await lock_claimed(first, report, anne, token, now)
            assert row.claim_token == token
            assert row.version == 1
            # The row is locked until this transaction ends: another waits for it.
            await second.execute("SET lock_timeout = '200ms'")
            with pytest.raises(asyncpg.LockNotAvailableError):
                async with second.transaction():
                    await lock_claimed(second, report, anne, token, now)
    finally:
        await first.close()
        await second.close()


async def listed_item(client: AsyncTestClient[Any], who: str, report_id: uuid.UUID) -> Any:
    answer = await client.get("/v1/triage", headers=bearer(who))
    assert answer.status_code == 200, answer.text
    (item,) = [i for i in answer.json()["items"] if i["report_id"] == str(report_id)]
    return item


async def test_a_corrected_report_is_listed_with_its_new_versions_issue_codes(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    # No municipality has 9999; the penal code has no sections 9998 and 9999: three issues,
    # two of one kind.
    report_id = await triage_support.waiting(
        app, owner, district=None, reason="no_district", offences=("strl-9999", "strl-9998")
    )
    accepted = json.loads(
        await owner.fetchval("SELECT quality_issues::text FROM reports WHERE id = $1", report_id)
    )
    assert [q["code"] for q in accepted].count("offence.unknown_code") == 2

    before = await listed_item(app, "per", report_id)
    assert before["version"] == 1
    assert before["quality_issues"] == ["municipality.unknown", "offence.unknown_code"]

    claim = await app.post(f"/v1/triage/{report_id}/claim", headers=bearer("anne"))
    assert claim.status_code == 200, claim.text
    # Theft (straffeloven § 321) for both: the offences are known now, the place still not.
    change = {"claim": claim.json()["token"], "changes": {"offences": ["strl-321"]}}
    done = await app.post(f"/v1/triage/{report_id}/correct", json=change, headers=bearer("anne"))
    assert done.status_code == 200, done.text
    assert (done.json()["version"], done.json()["state"]) == (2, "waiting")

    after = await listed_item(app, "per", report_id)
    assert after["version"] == 2
    assert after["quality_issues"] == ["municipality.unknown"]
    stored = json.loads(
        await owner.fetchval(
            "SELECT quality_issues::text FROM report_versions WHERE report_id = $1 AND version = 2",
            report_id,
        )
    )
    assert sorted({q["code"] for q in stored}) == after["quality_issues"]
    # The first version keeps its issues: the list shows the current one's, not these.
    assert accepted == json.loads(
        await owner.fetchval("SELECT quality_issues::text FROM reports WHERE id = $1", report_id)
    )


async def test_items_without_issues_list_none(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(owner)
    assert (await listed_item(app, "anne", report_id))["quality_issues"] == []


async def test_the_openapi_document_names_the_items_issue_codes(app: AsyncTestClient[Any]) -> None:
    spec = (await app.get("/schema/openapi.json")).json()
    page = spec["paths"]["/v1/triage"]["get"]["responses"]["200"]["content"]
    assert page["application/json"]["schema"] == {"$ref": "#/components/schemas/Page"}
    item = spec["components"]["schemas"]["WorkItem"]
    codes = item["properties"]["quality_issues"]
    assert (codes["type"], codes["items"]) == ("array", {"type": "string"})
    assert "codes" in codes["description"]
    assert "quality_issues" in item["required"]
