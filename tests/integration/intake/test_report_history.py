"""A report's history and status against the real PostgreSQL: a report through triage, the
router's rows and the people's acts written with SQL as the router and the workbench write
them (migration 0011), read back by its client, by people of its district and of another,
each seeing what is theirs to see; the status true of the world at every step."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.integration.conftest import unique
from tests.integration.intake.triage_support import PEOPLE, app, bearer
from tests.support.clients import auth

__all__ = ["app"]  # fixture

EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples"
NO_DISTRICT = "no police district: municipality unknown or missing"


class Report:
    """One report accepted over the API, its time of receipt, and how to write its life."""

    def __init__(self, conn: asyncpg.Connection, report_id: uuid.UUID, received: dt.datetime):
        self.conn = conn
        self.id = report_id
        self.received = received

    def at(self, seconds: float) -> dt.datetime:
        return self.received + dt.timedelta(seconds=seconds)

    async def triaged(self) -> None:
        """Published at +1 s; the rules send it to triage at +2 s (no district); the triage
        queue confirms it at +3 s and the router puts it on the work list."""
        await self.conn.execute(
            "UPDATE outbox SET published_at = $2 WHERE report_id = $1", self.id, self.at(1)
        )
        decision = {"report_id": str(self.id), "unit": "triage", "priority": "high"}
        await self.conn.execute(
            "INSERT INTO decisions (report_id, district, unit, priority, amqp_priority,"
            " matched_rules, triage_reasons, ruleset_version, decided_at, decision)"
            " VALUES ($1, NULL, 'triage', 'high', 7, '{r-weapon}', $2, 'v-test', $3, $4)",
            self.id,
            [NO_DISTRICT],
            self.at(2),
            json.dumps(decision),
        )
        await self.conn.execute(
            "INSERT INTO case_deliveries (report_id, unit, confirmed_at) VALUES ($1, 'triage', $2)",
            self.id,
            self.at(3),
        )
        await self.conn.execute(
            "INSERT INTO work_items (report_id, district, source, reason, priority,"
            " priority_rank, received_at, waiting_since)"
            " VALUES ($1, NULL, 'alpha-src', 'no_district', 'high', 2, $2, $3)",
            self.id,
            self.received,
            self.at(3),
        )

    async def act(
        self,
        kind: str,
        seconds: float,
        actor: str,
        details: dict[str, Any],
        reason: str | None = None,
    ) -> uuid.UUID:
        act_id = uuid.uuid4()
        role = "prosecutor" if PEOPLE[actor].is_prosecutor else "assessor"
        await self.conn.execute(
            "INSERT INTO person_acts (id, report_id, kind, actor, actor_role, acted_at, reason,"
            " details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            act_id,
            self.id,
            kind,
            actor,
            role,
            self.at(seconds),
            reason,
            json.dumps(details),
        )
        return act_id

    async def item(self, **changes: Any) -> None:
        sets = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(changes))
        await self.conn.execute(
            f"UPDATE work_items SET {sets} WHERE report_id = $1",
            self.id,
            *changes.values(),
        )


async def accepted(app: AsyncTestClient[Any], owner: asyncpg.Connection) -> Report:
    body = json.loads((EXAMPLES / "report.domestic-violence.json").read_text("utf-8"))
    body.update(source="alpha-src", external_id=unique())
    answer = await app.post("/v1/reports", json=body, headers=auth("alpha"))
    assert answer.status_code == 202, answer.text
    report_id = uuid.UUID(answer.json()["report_id"])
    received = await owner.fetchval("SELECT received_at FROM reports WHERE id = $1", report_id)
    return Report(owner, report_id, received)


async def read(app: AsyncTestClient[Any], report: Report, headers: dict[str, str]) -> Any:
    answer = await app.get(f"/v1/reports/{report.id}", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def status(app: AsyncTestClient[Any], report: Report) -> str:
    shown: str = (await read(app, report, auth("alpha")))["status"]
    return shown


def when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


async def test_a_report_through_triage_to_its_unit(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report = await accepted(app, owner)
    await report.triaged()
    assert await status(app, report) == "waiting"

    # A claim whose lease ran out leaves it waiting; a live one makes it claimed.
    token_id = uuid.uuid4()
    lease = report.at(10 + 15 * 60)
    await report.act("claimed", 10, "anne", {"token": str(token_id), "lease_until": str(lease)})
    await report.item(
        claimed_by="anne",
        claim_role="assessor",
        claim_token=token_id,
        lease_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
    )
    assert await status(app, report) == "waiting"
    await report.item(lease_until=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15))
    assert await status(app, report) == "claimed"

    # Anne corrects the municipality: version 2; then routes it to a unit.
    original = json.loads(
        await owner.fetchval("SELECT report::text FROM reports WHERE id = $1", report.id)
    )
    corrected = {**original, "incident": {**original["incident"], "municipality": "0301"}}
    correction = await report.act(
        "corrected",
        20,
        "anne",
        {"fields": ["incident.municipality"], "version": 2, "unit": "triage", "downgrade": False},
        reason="the caller named Oslo",
    )
    await owner.execute(
        "INSERT INTO report_versions (report_id, version, report, act_id, created_at)"
        " VALUES ($1, 2, $2, $3, $4)",
        report.id,
        json.dumps(corrected),
        correction,
        report.at(20),
    )
    await report.item(version=2)
    route = await report.act(
        "routed",
        30,
        "anne",
        {"unit": "oslo.vold", "priority": "high", "overridden": []},
        reason="weapon, same evening",
    )
    decided_by = {
        "subject": "anne",
        "role": "assessor",
        "act": "routed",
        "act_id": str(route),
        "reason": "weapon, same evening",
        "report_version": 2,
    }
    await owner.execute(
        "INSERT INTO person_decisions (id, report_id, version, unit, district, priority,"
        " amqp_priority, decided_by, decided_role, ruleset_version, decided_at, decision)"
        " VALUES ($1, $2, 2, 'oslo.vold', 'oslo', 'high', 7, 'anne', 'assessor', 'v-test', $3,"
        " $4)",
        route,
        report.id,
        report.at(30),
        json.dumps({"report_id": str(report.id), "unit": "oslo.vold", "decided_by": decided_by}),
    )
    await report.item(
        state="done",
        outcome="routed",
        district="oslo",
        claimed_by=None,
        claim_role=None,
        claim_token=None,
        lease_until=None,
    )
    # Decided, not routed, until the unit's queue confirmed the case; waiting for a queue
    # while RabbitMQ returned it.
    assert await status(app, report) == "decided"
    await owner.execute(
        "INSERT INTO person_waiting_cases (decision_id, report_id, unit, next_attempt_at)"
        " VALUES ($1, $2, 'oslo.vold', now())",
        route,
        report.id,
    )
    assert await status(app, report) == "waiting_for_unit_queue"
    await owner.execute(
        "INSERT INTO person_case_deliveries (decision_id, report_id, unit, confirmed_at)"
        " VALUES ($1, $2, 'oslo.vold', $3)",
        route,
        report.id,
        report.at(40),
    )

    seen = await read(app, report, bearer("anne"))
    assert seen["status"] == "routed"
    assert (seen["version"], seen["versions"]) == (2, [1, 2])
    assert seen["report"]["incident"]["municipality"] == "0301"
    assert seen["decision"]["decided_by"] == decided_by
    history = seen["history"]
    assert [
        (e["event"], e["by"]["kind"], e["by"]["id"], e["by"]["role"], e["reason"], when(e["at"]))
        for e in history
    ] == [
        ("accepted", "client", "alpha", "submitter", None, report.at(0)),
        ("published", "intake", None, None, None, report.at(1)),
        ("decided", "rules", "v-test", None, None, report.at(2)),
        ("triaged", "router", None, None, None, report.at(3)),
        ("claimed", "person", "anne", "assessor", None, report.at(10)),
        ("corrected", "person", "anne", "assessor", "the caller named Oslo", report.at(20)),
        ("routed", "person", "anne", "assessor", "weapon, same evening", report.at(30)),
        ("delivered", "router", None, None, None, report.at(40)),
    ]
    assert history[3]["details"]["triage_reasons"] == [NO_DISTRICT]
    assert "token" not in history[4]["details"]
    assert history[5]["details"] == {
        "fields": ["incident.municipality"],
        "version": 2,
        "unit": "triage",
        "downgrade": False,
        "act_id": str(correction),
    }
    assert history[7]["details"] == {"unit": "oslo.vold", "decision_id": str(route)}

    # The client that sent it: the same events, who by kind and role, no reasons.
    client = await read(app, report, auth("alpha"))
    assert [e["event"] for e in client["history"]] == [e["event"] for e in history]
    # Who by kind and role for a person; the client's own id and the rule set stay.
    assert all(e["reason"] is None for e in client["history"])
    assert all(e["by"]["id"] is None for e in client["history"] if e["by"]["kind"] == "person")
    assert client["history"][0]["by"]["id"] == "alpha"
    assert [e["by"]["role"] for e in client["history"]] == [e["by"]["role"] for e in history]
    assert client["decision"]["decided_by"] == {
        "role": "assessor",
        "act": "routed",
        "act_id": str(route),
        "report_version": 2,
    }
    assert "anne" not in json.dumps(client)
    assert "Oslo" not in json.dumps(client["history"])

    # People of another district do not see it; a national prosecutor does; an operator
    # person, without a triage role, is refused; another client gets a 404 as before.
    other = await app.get(f"/v1/reports/{report.id}", headers=bearer("per"))
    assert other.status_code == 404
    assert (
        other.json()["detail"]
        == (await app.get(f"/v1/reports/{uuid.uuid4()}", headers=bearer("per"))).json()["detail"]
    )
    assert (await read(app, report, bearer("nina")))["history"][4]["by"]["id"] == "anne"
    assert (await app.get(f"/v1/reports/{report.id}", headers=bearer("ola"))).status_code == 403
    assert (await app.get(f"/v1/reports/{report.id}", headers=auth("beta"))).status_code == 404
    refused = await app.get(f"/v1/reports/{report.id}", headers=bearer("nobody"))
    assert refused.status_code == 401
    assert "invalid_token" in refused.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("kind", "answer", "outcome"),
    [
        ("closure", "closure_approved", "closed"),
        ("transfer", "transfer_approved", "transferred_out"),
    ],
)
async def test_a_proposal_waits_for_a_prosecutor_then_closes(
    app: AsyncTestClient[Any], owner: asyncpg.Connection, kind: str, answer: str, outcome: str
) -> None:
    report = await accepted(app, owner)
    await report.triaged()
    await report.item(district="oslo")
    if kind == "closure":
        details: dict[str, Any] = {"ground": "unknown-offender", "basis": "strpl. § 62 a"}
        proposed_kind = "closure_proposed"
    else:
        details = {"to": "authority", "authority": "Tolletaten", "organisation_number": "974761076"}
        proposed_kind = "transferred"
    proposal = await report.act(proposed_kind, 10, "anne", details, reason="nothing to go on")
    await report.item(state="proposed", pending_act=proposal)
    assert await status(app, report) == "proposed"
    await report.act(answer, 20, "pia", {"proposal": str(proposal)}, reason="agreed")
    await report.item(state="done", outcome=outcome, pending_act=None)
    assert await status(app, report) == outcome

    history = (await read(app, report, bearer("pia")))["history"]
    assert [(e["event"], e["by"]["id"], e["by"]["role"], e["reason"]) for e in history[4:]] == [
        (proposed_kind, "anne", "assessor", "nothing to go on"),
        (answer, "pia", "prosecutor", "agreed"),
    ]
    assert {k: history[4]["details"][k] for k in details} == details
    assert history[5]["details"]["proposal"] == str(proposal)
