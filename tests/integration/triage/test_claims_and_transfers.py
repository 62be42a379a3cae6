"""Claims and transfers end to end, with real access tokens: a claim held by one person
refuses another (naming the holder and until when), a correction the rules still triage
keeps the report waiting with the new version's quality issues, a report transferred from
Oslo to Vest leaves Oslo's list for Vest's."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from tests.integration.stack import Stack
from tests.integration.triage.flows import (
    as_person,
    claim,
    in_municipality,
    listed,
    post,
    problem_type,
    read,
    value,
    waiting,
)
from tests.support import people

NOWHERE = "9998"  # no municipality has this number
UNKNOWN_OFFENCE = [{"code": "strl-9999"}]  # the Penal Code has no § 9999


async def test_a_claim_held_by_anne_refuses_nina_and_per_naming_anne_and_until_when(
    stack: Stack,
) -> None:
    report_id = await post(stack, **in_municipality(NOWHERE))
    await waiting(stack, report_id)
    held = await as_person(stack, "anne", "POST", f"/v1/triage/{report_id}/claim")
    assert held.status_code == 200, held.text
    claim_of_anne = held.json()
    assert claim_of_anne["holder"] == "anne"
    until = dt.datetime.fromisoformat(claim_of_anne["lease_until"])
    # The lease is the default 15 minutes (FSI_TRIAGE_LEASE_MINUTES), give or take the request.
    left = until - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=14) < left <= dt.timedelta(minutes=15)

    # Nina (national) sees every district, Per (Vest) a report with none: both may try.
    for who in ("nina", "per"):
        refused = await as_person(stack, who, "POST", f"/v1/triage/{report_id}/claim")
        assert refused.status_code == 409, (who, refused.text)
        assert problem_type(refused) == "claimed"
        problem = refused.json()
        assert problem["holder"] == "anne"
        assert dt.datetime.fromisoformat(problem["lease_until"]) == until
        assert "anne" in problem["detail"]
    # The holder claiming again renews: the same token.
    again = await as_person(stack, "anne", "POST", f"/v1/triage/{report_id}/claim")
    assert again.status_code == 200, again.text
    assert again.json()["token"] == claim_of_anne["token"]
    acts = await value(
        stack,
        "SELECT array_agg(actor ORDER BY acted_at) FROM person_acts WHERE report_id = $1",
        uuid.UUID(report_id),
    )
    assert acts == ["anne"]  # refusals recorded nothing; a renewal is no second claim
    # The list shows who holds it.
    page = await stack.intake.get("/v1/triage", headers=await people.bearer_for("per"))
    (item,) = [i for i in page.json()["items"] if i["report_id"] == report_id]
    assert item["claim"]["holder"] == "anne"


async def test_a_correction_the_rules_still_triage_keeps_it_waiting_with_its_issues(
    stack: Stack,
) -> None:
    report_id = await post(stack, offences=UNKNOWN_OFFENCE, **in_municipality(NOWHERE))
    await waiting(stack, report_id)
    before = await read(stack, report_id, "anne")
    assert {q["path"] for q in before["quality_issues"]} >= {
        "$.incident.municipality",
        "$.offences[0].code",
    }
    token = await claim(stack, "anne", report_id)
    # Theft (straffeloven § 321): the offence is known now, the municipality still is not.
    change = {"claim": token, "changes": {"offences": ["strl-321"]}}
    done = await as_person(stack, "anne", "POST", f"/v1/triage/{report_id}/correct", change)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert (answer["version"], answer["state"], answer["case"]) == (2, "waiting", None)

    row = await waiting(stack, report_id)
    assert (row["state"], row["version"], row["claimed_by"]) == ("waiting", 2, "anne")
    assert (row["district"], row["reason"]) == (None, "no_district")
    stored = await value(
        stack,
        "SELECT quality_issues::text FROM report_versions WHERE report_id = $1 AND version = 2",
        uuid.UUID(report_id),
    )
    seen = await read(stack, report_id, "anne")
    assert seen["version"] == 2
    assert seen["report"]["offences"][0]["code"] == "strl-321"
    # The read shows the current version's issues, as report_versions holds them: the
    # municipality's, the offence's gone.
    paths = [q["path"] for q in seen["quality_issues"]]
    assert "$.incident.municipality" in paths
    assert not any(p.startswith("$.offences") for p in paths)
    assert [q["path"] for q in json.loads(stored)] == paths
    assert seen["quality_issues"] == seen["report"]["quality_issues"]
    assert report_id in await listed(stack, "per")


async def test_a_transfer_from_oslo_to_vest_moves_it_to_vests_list(stack: Stack) -> None:
    report_id = await post(stack, offences=UNKNOWN_OFFENCE)  # Oslo, an unknown offence
    row = await waiting(stack, report_id)
    assert (row["district"], row["reason"]) == ("oslo", "quality_issues")
    assert report_id in await listed(stack, "anne")
    assert report_id not in await listed(stack, "per")

    token = await claim(stack, "anne", report_id)
    body = {"claim": token, "to": {"district": "vest"}, "reason": "Hendelsen skjedde i Bergen."}
    moved = await as_person(stack, "anne", "POST", f"/v1/triage/{report_id}/transfer", body)
    assert moved.status_code == 200, moved.text

    assert report_id in await listed(stack, "per")
    assert report_id in await listed(stack, "per", district="vest", reason="transferred")
    for who in ("anne", "pia", "paal"):
        assert report_id not in await listed(stack, who), who
    row = await waiting(stack, report_id)
    assert (row["district"], row["reason"], row["detail"]) == ("vest", "transferred", "oslo")
    assert (row["state"], row["claimed_by"]) == ("waiting", None)
    # Oslo may not take it back, Vest may claim it.
    refused = await as_person(stack, "anne", "POST", f"/v1/triage/{report_id}/claim")
    assert refused.status_code == 403, refused.text
    assert await claim(stack, "per", report_id)
    history = (await read(stack, report_id, "per"))["history"]
    transferred = next(e for e in history if e["event"] == "transferred")
    assert transferred["by"] == {"kind": "person", "id": "anne", "role": "assessor"}
    assert transferred["reason"] == "Hendelsen skjedde i Bergen."
    assert transferred["details"]["district"] == "vest"
