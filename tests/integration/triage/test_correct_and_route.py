"""The workbench end to end, with every real part: a machine client's report the rules send
to triage, people with real access tokens of the local OIDC provider working it through the
intake, the outbox relay and the router publishing their cases to the units' queues of the
real RabbitMQ, and the report's status and history read back."""

from __future__ import annotations

import uuid

from schemas.decision import DecidedBy
from tests.integration.stack import Stack
from tests.integration.triage.flows import (
    as_person,
    cases_in,
    claim,
    deliveries,
    in_municipality,
    listed,
    post,
    read,
    read_when,
    value,
    waiting,
)

# 0301 is Oslo municipality, in Oslo police district (schemas' reference data).
OSLO_MUNICIPALITY = "0301"
NOWHERE = "9998"  # no municipality has this number


async def test_an_unknown_municipality_corrected_by_anne_reaches_its_unit_once(
    stack: Stack,
) -> None:
    report_id = await post(stack, **in_municipality(NOWHERE))
    row = await waiting(stack, report_id)
    assert (row["district"], row["reason"]) == (None, "no_district")
    # No district: every assessor sees it, whatever their own districts.
    for who in ("anne", "per"):
        assert report_id in await listed(stack, who), who

    token = await claim(stack, "anne", report_id)
    change = {"claim": token, "changes": {"incident.municipality": OSLO_MUNICIPALITY}}
    path = f"/v1/triage/{report_id}/correct"
    preview = await as_person(stack, "anne", "POST", path + "?preview=true", change)
    assert preview.status_code == 200, preview.text
    shown = preview.json()
    assert shown["stored"] is False
    assert shown["report"]["incident"]["municipality"] == OSLO_MUNICIPALITY
    assert shown["quality_issues"] == []
    unit = shown["decision"]["unit"]
    assert unit.startswith("oslo."), unit  # the rules now place it in Oslo
    assert await value(stack, "SELECT count(*) FROM person_acts") == 1  # the claim only

    done = await as_person(stack, "anne", "POST", path, change)
    assert done.status_code == 200, done.text
    answer = done.json()
    assert (answer["stored"], answer["version"], answer["state"]) == (True, 2, "done")
    assert answer["case"]["unit"] == unit
    act_id = answer["act_id"]

    assert await deliveries(stack, act_id) == 1
    ((message, case),) = await cases_in(stack, unit)
    assert message.message_id == act_id
    assert case.report_id == uuid.UUID(report_id)
    assert case.decision.unit == unit
    assert case.decision.decided_by == DecidedBy(
        subject="anne",
        role="assessor",
        act="corrected",
        act_id=uuid.UUID(act_id),
        reason=None,
        report_version=2,
    )
    # The case carries the corrected version, not the report as it was accepted.
    assert case.report.incident.municipality == OSLO_MUNICIPALITY
    assert case.report.quality_issues == []

    ruleset = await value(
        stack, "SELECT ruleset_version FROM decisions WHERE report_id = $1", uuid.UUID(report_id)
    )
    seen = await read_when(stack, report_id, "routed", "anne")
    assert (seen["version"], seen["versions"]) == (2, [1, 2])
    assert seen["report"]["incident"]["municipality"] == OSLO_MUNICIPALITY
    assert seen["quality_issues"] == []  # the current version's: none left
    events = [(e["event"], *e["by"].values()) for e in seen["history"]]
    assert events[:3] == [
        ("accepted", "client", "alpha", "submitter"),
        ("published", "intake", None, None),
        ("decided", "rules", ruleset, None),
    ]
    assert [e[0] for e in events[3:]] == ["triaged", "claimed", "corrected", "delivered"]
    assert events[4][1:] == ("person", "anne", "assessor")
    assert events[5][1:] == ("person", "anne", "assessor")
    history = {e["event"]: e for e in seen["history"]}
    assert history["decided"]["details"]["unit"] == "triage"
    assert history["corrected"]["details"]["fields"] == ["incident.municipality"]
    assert history["delivered"]["details"]["unit"] == unit
    # Oldest first; the relay's record of the broker's confirm (published) may come after
    # the router decided on the message, and is still shown before the decision.
    times = [e["at"] for e in seen["history"] if e["event"] != "published"]
    assert times == sorted(times)
    # Its machine client sees the same story, without who by name.
    theirs = await read(stack, report_id)
    assert theirs["status"] == "routed"
    corrected = next(e for e in theirs["history"] if e["event"] == "corrected")
    assert corrected["by"] == {"kind": "person", "id": None, "role": "assessor"}

    for who in ("anne", "per", "nina"):
        assert report_id not in await listed(stack, who), who


async def test_a_route_carries_who_role_and_reason_and_a_retry_changes_nothing(
    stack: Stack,
) -> None:
    # Oslo, an offence the Penal Code does not have: the rules triage it for its quality.
    report_id = await post(stack, offences=[{"code": "strl-9999"}])
    assert (await waiting(stack, report_id))["district"] == "oslo"
    token = await claim(stack, "anne", report_id)
    unit = "oslo.okonomi-og-miljo"
    body = {
        "claim": token,
        "unit": unit,
        "priority": "high",
        "reason": "Del av en pågående sak om vinningskriminalitet.",
    }
    key = str(uuid.uuid4())
    path = f"/v1/triage/{report_id}/route"
    first = await as_person(stack, "anne", "POST", path, body, key=key)
    assert first.status_code == 200, first.text
    act_id = first.json()["act_id"]
    assert (first.json()["state"], first.json()["case"]["unit"]) == ("done", unit)
    # The same request again under the same key, as a client retries after a lost answer.
    again = await as_person(stack, "anne", "POST", path, body, key=key)
    assert (again.status_code, again.json()) == (first.status_code, first.json())

    assert await deliveries(stack, act_id) == 1
    ((message, case),) = await cases_in(stack, unit)
    assert message.message_id == act_id
    assert case.decision.unit == unit
    assert case.decision.priority.value == "high"  # the person's override
    assert message.priority == case.decision.amqp_priority
    assert case.decision.decided_by == DecidedBy(
        subject="anne",
        role="assessor",
        act="routed",
        act_id=uuid.UUID(act_id),
        reason="Del av en pågående sak om vinningskriminalitet.",
        report_version=1,
    )
    rid = uuid.UUID(report_id)
    for sql in (
        "SELECT count(*) FROM person_acts WHERE report_id = $1 AND kind = 'routed'",
        "SELECT count(*) FROM person_decisions WHERE report_id = $1",
        "SELECT count(*) FROM outbox WHERE report_id = $1 AND decision_id IS NOT NULL",
        "SELECT count(*) FROM person_case_deliveries WHERE report_id = $1",
    ):
        assert await value(stack, sql, rid) == 1, sql
    seen = await read_when(stack, report_id, "routed", "pia")
    routed = next(e for e in seen["history"] if e["event"] == "routed")
    assert routed["by"] == {"kind": "person", "id": "anne", "role": "assessor"}
    assert routed["reason"] == "Del av en pågående sak om vinningskriminalitet."
    assert routed["details"]["unit"] == unit
    assert seen["history"][-1]["event"] == "delivered"
