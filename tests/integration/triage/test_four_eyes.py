"""Four eyes end to end, with real access tokens of the local OIDC provider: a closure
proposed by one prosecutor is approved by another (never by its proposer), two approvals at
once give one, and a downgrade needs a reason and waits on the prosecutors' review list."""

from __future__ import annotations

import asyncio
import uuid

from tests.integration.stack import Stack
from tests.integration.triage.flows import (
    as_person,
    claim,
    deliveries,
    listed,
    post,
    problem_type,
    read,
    value,
    waiting,
)

# Oslo, with an offence the Penal Code does not have: the rules triage it for its quality.
UNKNOWN_OFFENCE = {"code": "strl-9999"}
CLOSE = {"ground": "no-offence", "reason": "Forholdet er ikke straffbart."}


async def proposed_by_pia(stack: Stack) -> str:
    """A report of Oslo on the work list, claimed by Pia, its closure proposed by her."""
    report_id = await post(stack, offences=[UNKNOWN_OFFENCE])
    await waiting(stack, report_id)
    token = await claim(stack, "pia", report_id)
    body = {"claim": token, **CLOSE}
    answer = await as_person(stack, "pia", "POST", f"/v1/triage/{report_id}/close", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "proposed"
    return report_id


async def test_a_closure_proposed_by_pia_is_not_hers_to_approve_and_paal_approves_it(
    stack: Stack,
) -> None:
    report_id = await proposed_by_pia(stack)
    assert report_id not in await listed(stack, "anne")  # proposed: off the work list
    review = await as_person(stack, "paal", "GET", "/v1/triage/reviews")
    assert review.status_code == 200, review.text
    (proposal,) = [p for p in review.json()["proposals"] if p["report_id"] == report_id]
    assert (proposal["kind"], proposal["proposed_by"], proposal["yours"]) == (
        "closure_proposed",
        "pia",
        False,
    )
    assert (await read(stack, report_id, "paal"))["status"] == "proposed"

    own = await as_person(stack, "pia", "POST", f"/v1/triage/{report_id}/approve", {})
    assert own.status_code == 403, own.text
    assert problem_type(own) == "four-eyes"
    assert (await read(stack, report_id, "paal"))["status"] == "proposed"  # nothing changed

    approved = await as_person(
        stack, "paal", "POST", f"/v1/triage/{report_id}/approve", {"reason": "Enig."}
    )
    assert approved.status_code == 200, approved.text

    seen = await read(stack, report_id, "anne")
    assert seen["status"] == "closed"
    history = {e["event"]: e for e in seen["history"]}
    assert history["closure_proposed"]["by"] == {
        "kind": "person",
        "id": "pia",
        "role": "prosecutor",
    }
    assert history["closure_proposed"]["reason"] == CLOSE["reason"]
    assert history["closure_proposed"]["details"]["ground"] == "no-offence"
    assert history["closure_proposed"]["details"]["basis"]  # the ground's legal basis
    assert history["closure_approved"]["by"] == {
        "kind": "person",
        "id": "paal",
        "role": "prosecutor",
    }
    assert history["closure_approved"]["reason"] == "Enig."
    assert history["closure_proposed"]["at"] < history["closure_approved"]["at"]
    # A closed report is no case for any unit: no person's decision, nothing in an outbox.
    rid = uuid.UUID(report_id)
    assert (
        await value(stack, "SELECT count(*) FROM person_decisions WHERE report_id = $1", rid) == 0
    )
    review = await as_person(stack, "nina", "GET", "/v1/triage/reviews")
    assert report_id not in [p["report_id"] for p in review.json()["proposals"]]


async def test_two_approvals_at_once_one_wins_the_other_is_409(stack: Stack) -> None:
    report_id = await proposed_by_pia(stack)
    path = f"/v1/triage/{report_id}/approve"
    answers = await asyncio.gather(
        as_person(stack, "paal", "POST", path, {}),
        as_person(stack, "nina", "POST", path, {}),
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    lost = next(a for a in answers if a.status_code == 409)
    assert problem_type(lost) == "not-proposed"
    assert (await read(stack, report_id, "nina"))["status"] == "closed"
    approvals = await value(
        stack,
        "SELECT count(*) FROM person_acts WHERE report_id = $1 AND kind = 'closure_approved'",
        uuid.UUID(report_id),
    )
    assert approvals == 1


async def test_a_downgrade_needs_a_reason_and_then_waits_for_a_prosecutors_review(
    stack: Stack,
) -> None:
    # Grov kroppskrenkelse (strl. § 272, high) and an unknown offence: triaged, high.
    report_id = await post(stack, offences=[{"code": "strl-272"}, UNKNOWN_OFFENCE])
    row = await waiting(stack, report_id)
    assert (row["district"], row["priority"]) == ("oslo", "high")
    token = await claim(stack, "anne", report_id)
    # Kroppskrenkelse (§ 271, normal) in their place: a less serious offence.
    change = {"claim": token, "changes": {"offences": ["strl-271"]}}
    path = f"/v1/triage/{report_id}/correct"
    rid = uuid.UUID(report_id)
    acts = "SELECT count(*) FROM person_acts WHERE report_id = $1"

    refused = await as_person(stack, "anne", "POST", path, change)
    assert refused.status_code == 422, refused.text
    assert problem_type(refused) == "reason-required"
    assert [e["path"] for e in refused.json()["errors"]] == ["$.reason"]
    assert "strl-272" in refused.json()["detail"]
    assert await value(stack, acts, rid) == 1  # the claim only: nothing stored
    assert (await waiting(stack, report_id))["version"] == 1

    why = "Skadene var lettere enn først meldt."
    done = await as_person(stack, "anne", "POST", path, {**change, "reason": why}, key="fix-1")
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["downgrade"]  # what makes it one, said
    act_id = answer["act_id"]

    # Only prosecutors see the review list; an assessor is refused.
    assert (await as_person(stack, "anne", "GET", "/v1/triage/reviews")).status_code == 403
    for who in ("pia", "nina"):
        review = await as_person(stack, who, "GET", "/v1/triage/reviews")
        assert review.status_code == 200, review.text
        (listed_one,) = [d for d in review.json()["downgrades"] if d["act_id"] == act_id]
        assert (listed_one["report_id"], listed_one["kind"]) == (report_id, "corrected")
        assert (listed_one["by"], listed_one["role"], listed_one["reason"]) == (
            "anne",
            "assessor",
            why,
        )
    # Known offences in Oslo: the rules route it, the case goes on at once (a downgrade is
    # reviewed after the fact), delivered once.
    assert answer["state"] == "done"
    assert await deliveries(stack, act_id) == 1
    # Reviewed by Pia: off the list for every prosecutor.
    marked = await as_person(stack, "pia", "POST", f"/v1/triage/reviews/{act_id}/reviewed", {})
    assert marked.status_code == 200, marked.text
    review = await as_person(stack, "nina", "GET", "/v1/triage/reviews")
    assert act_id not in [d["act_id"] for d in review.json()["downgrades"]]
