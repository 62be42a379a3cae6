"""Batches with mixed outcomes, and the source-format endpoints, against real services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from litestar.testing import AsyncTestClient

from tests.integration.conftest import drain, unique
from tests.support.clients import auth

ROOT = Path(__file__).parents[3]
EXAMPLES = ROOT / "schemas" / "examples"


def canonical(source: str = "alpha-src") -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / "report.bicycle-theft.json").read_text("utf-8"))
    body.update(source=source, external_id=unique("batch"))
    return body


async def test_batch_reports_every_outcome_and_keeps_valid_items(
    intake: AsyncTestClient[Any], routing_queue: aio_pika.abc.AbstractQueue
) -> None:
    earlier = canonical()
    assert (
        await intake.post("/v1/reports", json=earlier, headers=auth("alpha"))
    ).status_code == 202
    good = [canonical() for _ in range(3)]
    invalid = {**canonical(), "offences": []}
    conflict = {**earlier, "incident": {**earlier["incident"], "description": "endret"}}
    in_batch_repeat = dict(good[0])
    items = [
        good[0],
        invalid,
        earlier,
        conflict,
        canonical("beta-src"),
        good[1],
        in_batch_repeat,
        good[2],
    ]
    response = await intake.post(
        "/v1/reports/batch", json={"reports": items}, headers=auth("alpha")
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["outcome"] for r in results] == [
        "accepted",
        "invalid",
        "duplicate",
        "conflict",
        "forbidden",
        "accepted",
        "duplicate",
        "accepted",
    ]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert results[1]["problems"] == [
        {"path": "$.offences", "message": "Expected `array` of length >= 1"}
    ]
    assert results[6]["report_id"] == results[0]["report_id"]
    assert response.json()["summary"] == {
        "accepted": 3,
        "invalid": 1,
        "duplicate": 2,
        "conflict": 1,
        "forbidden": 1,
    }
    messages = await drain(routing_queue, 4)
    accepted = {r["report_id"] for r in results if r["outcome"] == "accepted"}
    assert sorted(m.message_id for m in messages) == sorted(accepted | {results[2]["report_id"]})


async def test_batch_limits(intake: AsyncTestClient[Any]) -> None:
    too_many = await intake.post(
        "/v1/reports/batch", json={"reports": [{}] * 1001}, headers=auth("alpha")
    )
    not_a_batch = await intake.post("/v1/reports/batch", json=[canonical()], headers=auth("alpha"))
    assert too_many.status_code == 413
    assert not_a_batch.status_code == 422
    assert not_a_batch.json()["errors"][0]["path"] == "$"


@pytest.mark.parametrize(
    ("name", "source", "codes"),
    [
        ("citizen", "nettanmeldelse", ["strl-321"]),
        ("patrol", "patrulje", ["strl-272", "strl-263"]),
        ("agency", "etat-974760673", ["toll-16-1", "strl-371", "strl-371"]),
    ],
)
async def test_source_formats_are_standardised(
    intake: AsyncTestClient[Any], name: str, source: str, codes: list[str]
) -> None:
    body = json.loads((EXAMPLES / "sources" / f"{name}.json").read_text("utf-8"))
    key = {"citizen": "referanse", "patrol": "case_ref", "agency": "meldingsId"}[name]
    body[key] = unique(name)
    response = await intake.post(f"/v1/sources/{name}/reports", json=body, headers=auth("alpha"))
    assert response.status_code == 202, response.text
    stored = (await intake.get(response.headers["location"], headers=auth("alpha"))).json()
    assert stored["source_format"] == name
    assert stored["report"]["source"] == source
    assert stored["report"]["external_id"] == body[key]
    assert [o["code"] for o in stored["report"]["offences"]] == codes
    assert stored["report"]["reported_at"].endswith("Z")


async def test_source_format_errors(intake: AsyncTestClient[Any]) -> None:
    body = json.loads((EXAMPLES / "sources" / "patrol.json").read_text("utf-8"))
    body["people"][0]["r"] = "Q"
    del body["narrative"]
    missing = await intake.post("/v1/sources/patrol/reports", json=body, headers=auth("alpha"))
    body["narrative"] = "ok"
    bad_code = await intake.post("/v1/sources/patrol/reports", json=body, headers=auth("alpha"))
    unknown = await intake.post("/v1/sources/fax/reports", json=body, headers=auth("alpha"))
    not_allowed = await intake.post("/v1/sources/patrol/reports", json=body, headers=auth("beta"))
    assert missing.status_code == 422
    assert [e["path"] for e in missing.json()["errors"]] == ["$.narrative"]
    assert bad_code.status_code == 422
    assert [e["path"] for e in bad_code.json()["errors"]] == ["$.people[0].r"]
    assert (unknown.status_code, not_allowed.status_code) == (404, 403)


async def test_an_item_that_cannot_be_standardised_holds_back_no_other(
    intake: AsyncTestClient[Any],
) -> None:
    grows = canonical()
    grows["incident"]["description"] = "\u0958" * 15_000
    items = [canonical(), grows, canonical()]
    response = await intake.post(
        "/v1/reports/batch", json={"reports": items}, headers=auth("alpha")
    )
    assert response.status_code == 200
    assert [r["outcome"] for r in response.json()["results"]] == ["accepted", "invalid", "accepted"]
    empty = await intake.post("/v1/reports/batch", json={"reports": []}, headers=auth("alpha"))
    assert empty.status_code == 422


async def test_same_instant_in_another_time_zone_is_a_duplicate(
    intake: AsyncTestClient[Any],
) -> None:
    body = canonical()
    body["reported_at"] = "2026-11-26T18:42:00+01:00"
    first = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    again = await intake.post(
        "/v1/reports", json={**body, "reported_at": "2026-11-26T17:42:00Z"}, headers=auth("alpha")
    )
    assert (first.status_code, again.status_code) == (202, 200)
