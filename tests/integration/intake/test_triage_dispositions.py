"""Dispositions and approvals against the real PostgreSQL, through the app: a correction the
rules then route, downgrades and their review, closures with four eyes, transfers, links,
retries under one key, and every refusal changing nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from schemas.decision import Decision
from schemas.envelope import CASE_DECIDED_TYPE, CaseDecided
from tests.integration.intake.triage_support import app, bearer, claim, waiting

__all__ = ["app"]  # fixture

PROBLEMS = "https://fsi-intake.politiet.example/problems/"
# Oslo's units as deploy/routing/units.yaml lists them: a case placed in Oslo goes to one.
OSLO = "oslo."


async def rows(owner: asyncpg.Connection, report_id: uuid.UUID) -> dict[str, Any]:
    """Everything a disposition may write for the report, counted, and its work item."""
    counted = {}
    for table in ("person_acts", "report_versions", "person_decisions"):
        counted[table] = await owner.fetchval(
            f"SELECT count(*) FROM {table} WHERE report_id = $1",
            report_id,
        )
    counted["outbox"] = await owner.fetchval(
        "SELECT count(*) FROM outbox WHERE report_id = $1 AND decision_id IS NOT NULL", report_id
    )
    item = await owner.fetchrow("SELECT * FROM work_items WHERE report_id = $1", report_id)
    return {**counted, "item": dict(item) if item else None}


def problem_type(answer: Any) -> str:
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    kind: str = answer.json()["type"]
    return kind.removeprefix(PROBLEMS)


async def test_a_corrected_municipality_is_routed_by_the_rules_as_the_persons_case(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, district=None)
    token = await claim(app, "anne", report_id)
    change = {"claim": token, "changes": {"incident.municipality": "0301"}}
    before = await rows(owner, report_id)

    preview = await app.post(
        f"/v1/triage/{report_id}/correct?preview=true", json=change, headers=bearer("anne")
    )
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert shown["stored"] is False
    assert shown["report"]["incident"]["municipality"] == "0301"
    assert shown["decision"]["unit"].startswith(OSLO)  # 0301 is Oslo police district
    assert await rows(owner, report_id) == before

    done = await app.post(f"/v1/triage/{report_id}/correct", json=change, headers=bearer("anne"))
    assert done.status_code == 200, done.text
    answer = done.json()
    assert (answer["version"], answer["fields"], answer["state"]) == (
        2,
        ["incident.municipality"],
        "done",
    )
    unit = answer["case"]["unit"]
    assert unit == shown["decision"]["unit"]
    act_id = uuid.UUID(answer["act_id"])

    version = await owner.fetchrow(
        "SELECT report::text, act_id FROM report_versions WHERE report_id = $1 AND version = 2",
        report_id,
    )
    assert json.loads(version["report"])["incident"]["municipality"] == "0301"
    assert version["act_id"] == act_id
    decided = await owner.fetchrow("SELECT * FROM person_decisions WHERE id = $1", act_id)
    assert (decided["unit"], decided["district"], decided["version"]) == (unit, "oslo", 2)
    assert (decided["decided_by"], decided["decided_role"]) == ("anne", "assessor")
    decision = msgspec.json.decode(decided["decision"], type=Decision)
    assert decision.decided_by is not None
    assert (decision.decided_by.act, decision.decided_by.act_id) == ("corrected", act_id)
    assert decision.decided_by.report_version == 2
    outbox = await owner.fetchrow(
        "SELECT message_type, routing_key, source_format, payload FROM outbox"
        " WHERE decision_id = $1",
        act_id,
    )
    assert (outbox["message_type"], outbox["routing_key"], outbox["source_format"]) == (
        CASE_DECIDED_TYPE,
        "case.decided",
        "canonical",
    )
    assert msgspec.json.decode(outbox["payload"], type=CaseDecided) == CaseDecided(
        decision_id=act_id, report_id=report_id
    )
    item = (await rows(owner, report_id))["item"]
    assert (item["state"], item["outcome"], item["version"], item["claimed_by"]) == (
        "done",
        "routed",
        2,
        None,
    )
    act = await owner.fetchrow(
        "SELECT kind, actor, details::text FROM person_acts WHERE id = $1", act_id
    )
    assert (act["kind"], act["actor"]) == ("corrected", "anne")
    assert json.loads(act["details"])["fields"] == ["incident.municipality"]


async def test_a_correction_still_wrong_is_refused_naming_the_change_and_its_value(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, district=None)
    token = await claim(app, "anne", report_id)
    before = await rows(owner, report_id)
    answer = await app.post(
        f"/v1/triage/{report_id}/correct",
        json={"claim": token, "changes": {"incident.municipality": "9998"}},
        headers=bearer("anne"),
    )
    assert answer.status_code == 422, answer.text
    (error,) = answer.json()["errors"]
    assert error["path"] == "$.changes['incident.municipality']"
    assert "'9998'" in error["message"]
    assert await rows(owner, report_id) == before


async def test_a_downgrade_needs_a_reason_and_is_reviewed_by_another_prosecutor(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    # Grov kroppskrenkelse (strl. § 272, high) replaced by kroppskrenkelse (§ 271, normal).
    report_id = await waiting(
        app, owner, priority="high", municipality="0301", offences=("strl-272",)
    )
    token = await claim(app, "anne", report_id)
    change = {"claim": token, "changes": {"offences": ["strl-271"]}}
    before = await rows(owner, report_id)
    refused = await app.post(f"/v1/triage/{report_id}/correct", json=change, headers=bearer("anne"))
    assert refused.status_code == 422, refused.text
    assert problem_type(refused) == "reason-required"
    assert "strl-272" in refused.json()["detail"]
    assert await rows(owner, report_id) == before

    reasoned = {**change, "reason": "Ingen synlige skader; ikke grov."}
    done = await app.post(
        f"/v1/triage/{report_id}/correct", json=reasoned, headers=bearer("anne", "k-1")
    )
    assert done.status_code == 200, done.text
    act_id = done.json()["act_id"]
    assert done.json()["downgrade"]

    listed = await app.get("/v1/triage/reviews", headers=bearer("pia"))
    assert listed.status_code == 200, listed.text
    assert [d["act_id"] for d in listed.json()["downgrades"]] == [act_id]
    assert listed.json()["downgrades"][0]["reason"] == reasoned["reason"]
    assert (await app.get("/v1/triage/reviews", headers=bearer("anne"))).status_code == 403

    reviewed = await app.post(
        f"/v1/triage/reviews/{act_id}/reviewed", json={}, headers=bearer("pia")
    )
    assert reviewed.status_code == 200, reviewed.text
    again = await app.post(f"/v1/triage/reviews/{act_id}/reviewed", json={}, headers=bearer("paal"))
    assert again.status_code == 409
    assert "pia" in again.json()["detail"]
    assert (await app.get("/v1/triage/reviews", headers=bearer("pia"))).json()["downgrades"] == []


async def test_a_prosecutor_does_not_review_their_own_downgrade(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "pia", report_id)
    routed = await app.post(
        f"/v1/triage/{report_id}/route",
        json={"claim": token, "priority": "low", "reason": "Lite å etterforske."},
        headers=bearer("pia"),
    )
    assert routed.status_code == 200, routed.text
    act_id = routed.json()["act_id"]
    assert routed.json()["case"]["priority"] == "low"
    own = await app.post(f"/v1/triage/reviews/{act_id}/reviewed", json={}, headers=bearer("pia"))
    assert own.status_code == 403
    assert problem_type(own) == "four-eyes"
    other = await app.post(f"/v1/triage/reviews/{act_id}/reviewed", json={}, headers=bearer("paal"))
    assert other.status_code == 200, other.text
    decided = await owner.fetchrow(
        "SELECT priority, amqp_priority FROM person_decisions WHERE id = $1", uuid.UUID(act_id)
    )
    # deploy/routing/rules.yaml maps low to AMQP priority 1.
    assert (decided["priority"], decided["amqp_priority"]) == ("low", 1)


async def propose_closure(
    client: AsyncTestClient[Any], owner: asyncpg.Connection, who: str
) -> tuple[uuid.UUID, str]:
    report_id = await waiting(client, owner, municipality="0301")
    token = await claim(client, who, report_id)
    proposed = await client.post(
        f"/v1/triage/{report_id}/close",
        json={"claim": token, "ground": "no-offence", "reason": "Sykkelen var lånt bort."},
        headers=bearer(who),
    )
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["state"] == "proposed"
    return report_id, proposed.json()["act_id"]


async def test_a_closure_is_approved_by_another_prosecutor_only(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id, proposal = await propose_closure(app, owner, "pia")
    listed = (await app.get("/v1/triage/reviews", headers=bearer("paal"))).json()["proposals"]
    assert [(p["act_id"], p["proposed_by"], p["yours"]) for p in listed] == [
        (proposal, "pia", False)
    ]
    before = await rows(owner, report_id)
    own = await app.post(f"/v1/triage/{report_id}/approve", json={}, headers=bearer("pia"))
    assert own.status_code == 403
    assert problem_type(own) == "four-eyes"
    assert await rows(owner, report_id) == before

    approved = await app.post(f"/v1/triage/{report_id}/approve", json={}, headers=bearer("paal"))
    assert approved.status_code == 200, approved.text
    acts = await owner.fetch(
        "SELECT kind, actor, details->>'proposal' AS proposal FROM person_acts"
        " WHERE report_id = $1 AND kind LIKE 'closure%' ORDER BY acted_at",
        report_id,
    )
    assert [(a["kind"], a["actor"], a["proposal"]) for a in acts] == [
        ("closure_proposed", "pia", None),
        ("closure_approved", "paal", proposal),
    ]
    item = (await rows(owner, report_id))["item"]
    assert (item["state"], item["outcome"]) == ("done", "closed")


async def test_of_two_approvals_at_once_one_wins(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id, _ = await propose_closure(app, owner, "pia")
    answers = await asyncio.gather(
        app.post(f"/v1/triage/{report_id}/approve", json={}, headers=bearer("paal")),
        app.post(f"/v1/triage/{report_id}/approve", json={}, headers=bearer("nina")),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert (
        await owner.fetchval(
            "SELECT count(*) FROM person_acts WHERE report_id = $1 AND kind = 'closure_approved'",
            report_id,
        )
        == 1
    )


async def test_a_rejected_closure_is_back_on_the_list_with_the_reason(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id, proposal = await propose_closure(app, owner, "anne")
    bare = await app.post(f"/v1/triage/{report_id}/reject", json={}, headers=bearer("pia"))
    assert bare.status_code == 422
    assert problem_type(bare) == "reason-required"
    why = "Vitner er ikke avhørt."
    rejected = await app.post(
        f"/v1/triage/{report_id}/reject", json={"reason": why}, headers=bearer("pia")
    )
    assert rejected.status_code == 200, rejected.text
    item = (await rows(owner, report_id))["item"]
    assert (item["state"], item["reason"], item["pending_act"]) == (
        "waiting",
        "closure_rejected",
        None,
    )
    act = await owner.fetchrow(
        "SELECT reason, details->>'proposal' AS proposal FROM person_acts"
        " WHERE report_id = $1 AND kind = 'closure_rejected'",
        report_id,
    )
    assert (act["reason"], act["proposal"]) == (why, proposal)
    listed = (await app.get("/v1/triage", headers=bearer("anne"))).json()["items"]
    assert [(i["report_id"], i["reason"]) for i in listed] == [(str(report_id), "closure_rejected")]


async def test_a_transfer_to_another_district_moves_it_to_that_list(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    moved = await app.post(
        f"/v1/triage/{report_id}/transfer",
        json={"claim": token, "to": {"district": "vest"}, "reason": "Skjedde i Bergen."},
        headers=bearer("anne"),
    )
    assert moved.status_code == 200, moved.text
    vest = (await app.get("/v1/triage", headers=bearer("per"))).json()["items"]
    oslo = (await app.get("/v1/triage", headers=bearer("anne"))).json()["items"]
    assert [(i["report_id"], i["reason"], i["detail"]) for i in vest] == [
        (str(report_id), "transferred", "oslo")
    ]
    assert oslo == []
    assert vest[0]["claim"] is None


async def test_a_transfer_to_an_authority_checks_its_number_and_needs_approval(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    before = await rows(owner, report_id)
    to = {"authority": "Skatteetaten", "organisation_number": "974760674"}
    bad = await app.post(
        f"/v1/triage/{report_id}/transfer",
        json={"claim": token, "to": to, "reason": "Skattesak."},
        headers=bearer("anne"),
    )
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"][0]["path"] == "$.to.organisation_number"
    assert "'974760674'" in bad.json()["detail"]
    assert await rows(owner, report_id) == before
    # 974760673 (Skatteetaten): 9 digits with a valid mod 11 check digit.
    good = await app.post(
        f"/v1/triage/{report_id}/transfer",
        json={
            "claim": token,
            "to": {**to, "organisation_number": "974760673"},
            "reason": "Skattesak.",
        },
        headers=bearer("anne"),
    )
    assert good.status_code == 200, good.text
    assert good.json()["state"] == "proposed"
    approved = await app.post(f"/v1/triage/{report_id}/approve", json={}, headers=bearer("pia"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["outcome"] == "transferred_out"


async def test_a_transfer_to_a_national_unit_sends_a_case_there(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    sent = await app.post(
        f"/v1/triage/{report_id}/transfer",
        json={"claim": token, "to": {"unit": "kripos"}, "reason": "Del av et større nettverk."},
        headers=bearer("anne"),
    )
    assert sent.status_code == 200, sent.text
    decided = await owner.fetchrow(
        "SELECT unit, district FROM person_decisions WHERE id = $1",
        uuid.UUID(sent.json()["act_id"]),
    )
    assert (decided["unit"], decided["district"]) == ("kripos", None)
    assert (await rows(owner, report_id))["item"]["outcome"] == "transferred_to_unit"


async def test_a_link_follows_the_other_reports_confirmed_case(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    other = await waiting(app, owner, municipality="0301")
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    link = {"claim": token, "report_id": str(other)}
    before = await rows(owner, report_id)
    early = await app.post(f"/v1/triage/{report_id}/link", json=link, headers=bearer("anne"))
    assert early.status_code == 409
    assert problem_type(early) == "link-target-not-routed"
    assert await rows(owner, report_id) == before
    # The other report's case confirmed by a unit's queue, as the router records it.
    await owner.execute(
        "INSERT INTO case_deliveries (report_id, unit) VALUES ($1, 'oslo.vold-og-seksual')", other
    )
    linked = await app.post(f"/v1/triage/{report_id}/link", json=link, headers=bearer("anne"))
    assert linked.status_code == 200, linked.text
    assert linked.json()["case"]["unit"] == "oslo.vold-og-seksual"
    decided = await owner.fetchval(
        "SELECT decision::text FROM person_decisions WHERE id = $1",
        uuid.UUID(linked.json()["act_id"]),
    )
    by = msgspec.json.decode(decided, type=Decision).decided_by
    assert by is not None
    assert (by.act, by.linked_to) == ("linked", other)


async def test_unknown_unit_and_an_override_without_reason_are_refused(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    before = await rows(owner, report_id)
    typo = await app.post(
        f"/v1/triage/{report_id}/route",
        json={"claim": token, "unit": "kripso"},
        headers=bearer("anne"),
    )
    assert typo.status_code == 422, typo.text
    assert "kripos" in typo.json()["detail"]
    bare = await app.post(
        f"/v1/triage/{report_id}/route",
        json={"claim": token, "priority": "critical"},
        headers=bearer("anne"),
    )
    assert bare.status_code == 422
    assert problem_type(bare) == "reason-required"
    assert await rows(owner, report_id) == before


async def test_a_retry_under_the_same_key_gets_the_first_answer_and_one_act(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    route = {"claim": token}
    first = await app.post(
        f"/v1/triage/{report_id}/route", json=route, headers=bearer("anne", "r-1")
    )
    assert first.status_code == 200, first.text
    again = await app.post(
        f"/v1/triage/{report_id}/route", json=route, headers=bearer("anne", "r-1")
    )
    assert (again.status_code, again.json()) == (200, first.json())
    other = await app.post(
        f"/v1/triage/{report_id}/route",
        json={**route, "unit": "kripos"},
        headers=bearer("anne", "r-1"),
    )
    assert other.status_code == 422
    assert problem_type(other) == "idempotency-key-reused"
    assert other.json()["header"] == "Idempotency-Key"
    counted = await rows(owner, report_id)
    assert (counted["person_acts"], counted["person_decisions"], counted["outbox"]) == (2, 1, 1)


async def test_a_retry_without_a_key_is_keyed_by_the_claim(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    first = await app.post(
        f"/v1/triage/{report_id}/route", json={"claim": token}, headers=bearer("anne")
    )
    again = await app.post(
        f"/v1/triage/{report_id}/route", json={"claim": token}, headers=bearer("anne")
    )
    assert (first.status_code, again.status_code, again.json()) == (200, 200, first.json())
    assert (await rows(owner, report_id))["person_decisions"] == 1


DISPOSITIONS: dict[str, Callable[[str], dict[str, Any]]] = {
    "correct": lambda t: {"claim": t, "changes": {"flags.weapon": True}},
    "route": lambda t: {"claim": t},
    "transfer": lambda t: {"claim": t, "to": {"district": "vest"}, "reason": "Feil distrikt."},
    "link": lambda t: {"claim": t, "report_id": str(uuid.uuid4())},
    "close": lambda t: {"claim": t, "ground": "no-offence", "reason": "Ikke straffbart."},
}


@pytest.mark.parametrize("kind", sorted(DISPOSITIONS))
async def test_every_disposition_is_refused_without_the_callers_live_claim(
    app: AsyncTestClient[Any], owner: asyncpg.Connection, kind: str
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    unclaimed = await rows(owner, report_id)
    stray = DISPOSITIONS[kind](str(uuid.uuid4()))
    nobody = await app.post(f"/v1/triage/{report_id}/{kind}", json=stray, headers=bearer("anne"))
    assert (nobody.status_code, problem_type(nobody)) == (409, "not-claimed-by-you")
    assert await rows(owner, report_id) == unclaimed

    token = await claim(app, "anne", report_id)
    claimed = await rows(owner, report_id)
    request = DISPOSITIONS[kind](token)
    other = await app.post(f"/v1/triage/{report_id}/{kind}", json=request, headers=bearer("paal"))
    assert (other.status_code, problem_type(other)) == (409, "claimed")
    district = await app.post(f"/v1/triage/{report_id}/{kind}", json=request, headers=bearer("per"))
    assert (district.status_code, problem_type(district)) == (403, "other-district")
    assert await rows(owner, report_id) == claimed

    await owner.execute("UPDATE work_items SET state = 'done' WHERE report_id = $1", report_id)
    done = await rows(owner, report_id)
    late = await app.post(f"/v1/triage/{report_id}/{kind}", json=request, headers=bearer("anne"))
    assert (late.status_code, problem_type(late)) == (409, "not-waiting")
    assert await rows(owner, report_id) == done
