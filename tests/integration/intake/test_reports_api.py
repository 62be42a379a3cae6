"""POST and GET /v1/reports against the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from openapi_spec_validator import validate

from schemas.envelope import REPORT_ACCEPTED_TYPE, ReportAccepted
from tests.integration.conftest import drain, unique
from tests.support.clients import auth

EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples"


def report(source: str = "alpha-src", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        (EXAMPLES / "report.domestic-violence.json").read_text("utf-8")
    )
    body.update(source=source, external_id=unique(), **changes)
    return body


async def test_accepted_report_is_committed_and_published_with_its_id(
    intake: AsyncTestClient[Any], routing_queue: aio_pika.abc.AbstractQueue, database_url: str
) -> None:
    body = report()
    response = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["status"] == "accepted"
    assert response.headers["location"] == f"/v1/reports/{answer['report_id']}"

    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT r.source, r.external_id, r.raw_body, count(o.id) AS outbox "
            "FROM reports r JOIN outbox o ON o.report_id = r.id WHERE r.id = $1 "
            "GROUP BY r.id",
            uuid.UUID(answer["report_id"]),
        )
    finally:
        await conn.close()
    assert (row["source"], row["external_id"], row["outbox"]) == (
        "alpha-src",
        body["external_id"],
        1,
    )
    assert json.loads(row["raw_body"]) == body

    (message,) = await drain(routing_queue, 1)
    assert message.message_id == answer["report_id"]
    assert message.type == REPORT_ACCEPTED_TYPE
    assert message.content_type == "application/json"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.headers["x-fsi-source-format"] == "canonical"
    envelope = msgspec.json.decode(message.body, type=ReportAccepted)
    assert str(envelope.report_id) == answer["report_id"]
    assert envelope.report.external_id == body["external_id"]
    assert envelope.report.offences[1].code == "strl-272"  # "strl. 272" normalised


async def test_repeat_is_a_duplicate_and_publishes_nothing_more(
    intake: AsyncTestClient[Any], routing_queue: aio_pika.abc.AbstractQueue
) -> None:
    body = report()
    first = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    # Same content, other spelling: key order and whitespace differ.
    respelled = json.dumps(dict(reversed(list(body.items()))), indent=4)
    again = await intake.post(
        "/v1/reports",
        content=respelled,
        headers={**auth("alpha"), "content-type": "application/json"},
    )
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    messages = await drain(routing_queue, 1)
    assert [m.message_id for m in messages] == [first.json()["report_id"]]


async def test_same_reference_other_content_is_a_conflict(intake: AsyncTestClient[Any]) -> None:
    body = report()
    first = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    changed = {**body, "incident": {**body["incident"], "description": "noe annet"}}
    response = await intake.post("/v1/reports", json=changed, headers=auth("alpha"))
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["report_id"] == first.json()["report_id"]
    assert "external_id" in problem["detail"]


async def test_invalid_report_lists_every_problem(intake: AsyncTestClient[Any]) -> None:
    body = report()
    body["reported_at"] = "yesterday"
    body["offences"] = [{}]
    body["persons"][0]["role"] = "bystander"
    body["incident"]["municipality"] = "12"
    del body["incident"]["description"]
    body["surprise"] = True
    response = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    paths = {e["path"] for e in response.json()["errors"]}
    assert paths == {
        "$.reported_at",
        "$.offences[0]",
        "$.persons[0].role",
        "$.incident.municipality",
        "$.incident.description",
        "$.…",  # a key that is no field: named as such, never quoted (it may be personal data)
    }


async def test_soft_problems_are_accepted_with_quality_issues(intake: AsyncTestClient[Any]) -> None:
    body = report()
    body["incident"]["municipality"] = "9998"
    body["persons"][0]["national_id"] = "15108695077"  # bad check digit
    body["offences"] = [{"label": "noe helt ukjent"}]
    response = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    assert response.status_code == 202
    stored = await intake.get(response.headers["location"], headers=auth("alpha"))
    codes = {(q["code"], q["path"]) for q in stored.json()["quality_issues"]}
    assert {
        ("municipality.unknown", "$.incident.municipality"),
        ("national_id.checksum", "$.persons[0].national_id"),
        ("offence.unknown_label", "$.offences[0].label"),
    } <= codes


async def test_wrong_media_type_bad_json_and_too_large(intake: AsyncTestClient[Any]) -> None:
    headers = auth("alpha")
    wrong_type = await intake.post(
        "/v1/reports", content=b"{}", headers={**headers, "content-type": "text/plain"}
    )
    not_json = await intake.post(
        "/v1/reports", content=b"{nope", headers={**headers, "content-type": "application/json"}
    )
    big = report()
    big["incident"]["description"] = "x" * 1_100_000
    too_large = await intake.post("/v1/reports", json=big, headers=headers)
    assert [wrong_type.status_code, not_json.status_code, too_large.status_code] == [415, 400, 413]
    for response in (wrong_type, not_json, too_large):
        assert response.headers["content-type"] == "application/problem+json"


async def test_authentication_and_source_permission(intake: AsyncTestClient[Any]) -> None:
    none = await intake.post("/v1/reports", json=report())
    wrong = await intake.post(
        "/v1/reports", json=report(), headers={"Authorization": "Bearer nope"}
    )
    other_source = await intake.post("/v1/reports", json=report("beta-src"), headers=auth("alpha"))
    operator_cannot_submit = await intake.post("/v1/reports", json=report(), headers=auth("ops"))
    assert [none.status_code, wrong.status_code, other_source.status_code] == [401, 401, 403]
    assert operator_cannot_submit.status_code == 403
    assert none.headers["www-authenticate"].startswith("Bearer")
    assert "beta-src" in other_source.json()["detail"]


async def test_rate_limit_answers_429_with_retry_after(intake: AsyncTestClient[Any]) -> None:
    codes = []
    for _ in range(5):
        response = await intake.post("/v1/reports", json=report("slow-src"), headers=auth("slow"))
        codes.append(response.status_code)
    assert codes[:3] == [202, 202, 202]
    assert codes[3:] == [429, 429]
    assert int(response.headers["retry-after"]) >= 1


async def test_only_the_submitter_or_an_operator_reads_a_report(
    intake: AsyncTestClient[Any],
) -> None:
    response = await intake.post("/v1/reports", json=report(), headers=auth("alpha"))
    location = response.headers["location"]
    own = await intake.get(location, headers=auth("alpha"))
    other = await intake.get(location, headers=auth("beta"))
    operator = await intake.get(location, headers=auth("ops"))
    missing = await intake.get(
        "/v1/reports/00000000-0000-4000-8000-000000000000", headers=auth("ops")
    )
    assert [own.status_code, other.status_code, operator.status_code] == [200, 404, 200]
    assert missing.status_code == 404
    assert other.json() == {**missing.json()}
    assert own.json()["status"] in {"accepted", "published"}
    assert own.json()["decision"] is None


async def test_health_and_openapi(intake: AsyncTestClient[Any]) -> None:
    assert (await intake.get("/healthz")).json() == {"status": "alive"}
    ready = await intake.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "up"
    spec = (await intake.get("/schema/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    validate(spec)
    submit = spec["paths"]["/v1/reports"]["post"]
    assert submit["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Report"
    }
    assert "application/problem+json" in submit["responses"]["422"]["content"]
    accepted = submit["responses"]["202"]["content"]["application/json"]["schema"]["$ref"]
    assert spec["components"]["schemas"][accepted.rsplit("/", 1)[1]]["required"] == ["report_id"]
    assert "occurred_from" in spec["components"]["schemas"]["Incident"]["properties"]


async def test_the_openapi_document_says_what_the_server_does(
    intake: AsyncTestClient[Any],
) -> None:
    spec = (await intake.get("/schema/openapi.json")).json()
    schemas, paths = spec["components"]["schemas"], spec["paths"]
    # Time fields are RFC 3339 date-times (or Norwegian local time without an offset).
    occurred = schemas["Incident"]["properties"]["occurred_from"]
    assert occurred["anyOf"][0]["format"] == "date-time"
    assert schemas["ReportView"]["properties"]["received_at"]["format"] == "date-time"
    # An offence needs a code or a label.
    assert [a["required"] for a in schemas["Offence"]["anyOf"]] == [["code"], ["label"]]
    # One operation per source format, each with its own body.
    for name, struct in (("citizen", "Citizen"), ("patrol", "Patrol"), ("agency", "Agency")):
        body = paths[f"/v1/sources/{name}/reports"]["post"]["requestBody"]["content"]
        assert body["application/json"]["schema"]["$ref"].endswith(f"/{struct}Report")
    assert "/v1/sources/{format_name}/reports" not in paths
    # Batch items are judged one by one: any value is an item, outcomes are named.
    items = schemas["BatchRequest"]["properties"]["reports"]["items"]
    assert {} in items["anyOf"]
    assert "invalid" in schemas["ItemResult"]["properties"]["outcome"]["enum"]
    # The API key, and the headers and answers the server gives.
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    answers = paths["/v1/reports"]["post"]["responses"]
    assert {
        "200",
        "202",
        "400",
        "401",
        "403",
        "408",
        "409",
        "413",
        "415",
        "422",
        "429",
        "503",
    } <= set(answers)
    assert answers["202"]["headers"]["Location"]["required"] is True
    assert answers["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert answers["429"]["headers"]["Retry-After"]["required"] is True
    assert answers["503"]["headers"]["Retry-After"]["required"] is True
    assert "Accept-Encoding" in answers["415"]["headers"]
    # A report is read by its client's key or a person's access token; the work list by a
    # person's only.
    assert paths["/v1/reports/{report_id}"]["get"]["security"] == [
        {"apiKey": []},
        {"accessToken": []},
    ]
    assert spec["components"]["securitySchemes"]["accessToken"]["bearerFormat"] == "JWT"
    assert paths["/v1/reports"]["post"]["security"] == [{"apiKey": []}]
    assert paths["/v1/triage"]["get"]["security"] == [{"accessToken": []}]
    history = schemas["HistoryEvent"]["properties"]
    assert {"accepted", "claimed", "corrected", "closure_approved", "delivered"} <= set(
        history["event"]["enum"]
    )
    assert schemas["Actor"]["properties"]["kind"]["enum"] == [
        "client",
        "intake",
        "rules",
        "router",
        "person",
        "unit",
    ]
    assert "subject" not in schemas["DecidedBy"]["required"]
    # HEAD answers as GET does, without a body.
    head = paths["/healthz"]["head"]["responses"]["200"]
    assert "content" not in head


async def test_status_follows_the_decision(intake: AsyncTestClient[Any], database_url: str) -> None:
    routed = await intake.post("/v1/reports", json=report(), headers=auth("alpha"))
    triaged = await intake.post("/v1/reports", json=report(), headers=auth("alpha"))
    conn = await asyncpg.connect(database_url)
    try:
        for response, unit in ((routed, "oslo.vold-naere-relasjoner"), (triaged, "triage")):
            decision = {"report_id": response.json()["report_id"], "unit": unit, "priority": "high"}
            await conn.execute(
                "INSERT INTO decisions (report_id, unit, priority, amqp_priority, ruleset_version,"
                " decided_at, decision) VALUES ($1, $2, 'high', 7, 'v-test', now(), $3::jsonb)",
                uuid.UUID(response.json()["report_id"]),
                unit,
                json.dumps(decision),
            )
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE decisions SET unit = 'x'")
        decided = [
            (await intake.get(r.headers["location"], headers=auth("alpha"))).json()["status"]
            for r in (routed, triaged)
        ]
        # Routed or triaged only once the queue confirmed the case.
        assert decided == ["decided", "decided"]
        for response, unit in ((routed, "oslo.vold-naere-relasjoner"), (triaged, "triage")):
            await conn.execute(
                "INSERT INTO case_deliveries (report_id, unit) VALUES ($1, $2)",
                uuid.UUID(response.json()["report_id"]),
                unit,
            )
    finally:
        await conn.close()
    shown = [
        (await intake.get(r.headers["location"], headers=auth("alpha"))).json()
        for r in (routed, triaged)
    ]
    assert [s["status"] for s in shown] == ["routed", "triaged"]
    assert shown[0]["decision"]["unit"] == "oslo.vold-naere-relasjoner"


async def test_canonical_format_needs_its_permission(intake: AsyncTestClient[Any]) -> None:
    single = await intake.post("/v1/reports", json=report(), headers=auth("citizen-only"))
    batch = await intake.post(
        "/v1/reports/batch", json={"reports": [report()]}, headers=auth("citizen-only")
    )
    assert (single.status_code, batch.status_code) == (403, 403)
    assert "canonical" in single.json()["detail"]


async def test_impossible_times_are_a_422_not_a_500(intake: AsyncTestClient[Any]) -> None:
    far = report(reported_at="9999-12-31T23:30:00Z")
    early = report()
    early["incident"]["occurred_from"] = "0001-01-01T00:00:00"
    responses = [
        await intake.post("/v1/reports", json=b, headers=auth("alpha")) for b in (far, early)
    ]
    assert [r.status_code for r in responses] == [422, 422]
    assert responses[1].json()["errors"][0]["path"] == "$.incident"


async def test_text_that_grows_past_its_limit_is_named(intake: AsyncTestClient[Any]) -> None:
    # U+0958 becomes two code points under NFC: 15,000 of them make a 30,000-character text.
    grows = report()
    grows["incident"]["description"] = "\u0958" * 15_000
    response = await intake.post("/v1/reports", json=grows, headers=auth("alpha"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "$.incident.description"
    assert "after standardisation" in response.json()["errors"][0]["message"]


async def test_a_dead_lettered_report_says_so_until_decided(
    intake: AsyncTestClient[Any], database_url: str
) -> None:
    posted = await intake.post("/v1/reports", json=report(), headers=auth("alpha"))
    report_id = uuid.UUID(posted.json()["report_id"])
    reason = "the router could not decide or store a decision: OverflowError"
    conn = await asyncpg.connect(database_url)
    try:
        for code, why in (
            ("contract", "not a fsi.report.accepted.v1 message"),
            ("decision_failed", reason),
        ):
            await conn.execute(
                "INSERT INTO dead_letters (report_id, code, reason) VALUES ($1, $2, $3)",
                report_id,
                code,
                why,
            )
        dead = (await intake.get(posted.headers["location"], headers=auth("alpha"))).json()
        # Whoever reads it learns the latest reason; another client still sees nothing.
        other = await intake.get(posted.headers["location"], headers=auth("beta"))
        await conn.execute(
            "INSERT INTO decisions (report_id, unit, priority, amqp_priority, ruleset_version,"
            " decided_at, decision) VALUES ($1, 'triage', 'high', 7, 'v-test', now(), $2::jsonb)",
            report_id,
            json.dumps({"report_id": str(report_id), "unit": "triage", "priority": "high"}),
        )
        decided = (await intake.get(posted.headers["location"], headers=auth("alpha"))).json()
    finally:
        await conn.close()
    assert dead["status"] == "dead_lettered"
    assert dead["decision"] is None
    assert (dead["dead_letter"]["code"], dead["dead_letter"]["reason"]) == (
        "decision_failed",
        reason,
    )
    assert other.status_code == 404
    # Decided after all (a redelivery, a republished message): the later status, no reason.
    assert (decided["status"], decided["dead_letter"]) == ("decided", None)
    spec = (await intake.get("/schema/openapi.json")).json()
    view = spec["components"]["schemas"]["ReportView"]["properties"]
    statuses = view["status"]["enum"]
    assert {"dead_lettered", "published", "decided", "routed"} <= set(statuses)
    assert "dead_letter" in view
