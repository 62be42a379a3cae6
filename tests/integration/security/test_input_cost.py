"""What a stranger can send costs the intake little and is refused clearly: a text refused at
its last character, a batch of many tiny items, a large batch beside other requests, a batch
that costs more than the client's rate; no problem echoes what the client wrote."""

from __future__ import annotations

import asyncio
import json
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from services.intake.app import create_app
from services.intake.settings import HttpSettings, IntakeSettings
from tests.integration.conftest import unique
from tests.support.clients import auth
from tests.support.server import served

EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples"
JSON = {"content-type": "application/json"}
IDENTITY = "24869023120"  # shaped as a national id: used as a key, it must not come back


def report(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / "report.domestic-violence.json").read_text())
    body.update({"source": "alpha-src", "external_id": unique("cost"), **changes})
    return body


async def _timed(intake: AsyncTestClient[Any], body: dict[str, Any]) -> tuple[float, int]:
    start = time.perf_counter()
    response = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    return time.perf_counter() - start, response.status_code


async def test_a_description_refused_at_its_last_character_costs_what_one_accepted_does(
    intake: AsyncTestClient[Any],
) -> None:
    accepted = report()
    accepted["incident"]["description"] = "a" * 20_000
    refused = report()
    refused["incident"]["description"] = "a" * 19_999 + "\u0000"
    await _timed(intake, report())  # warm
    took_accepted, status = await _timed(intake, accepted)
    assert status == 202
    took_refused, status = await _timed(intake, refused)
    assert status == 422
    assert took_refused < 3 * took_accepted + 0.1


async def test_a_batch_of_tiny_items_past_the_limit_is_413_within_little_memory(
    intake: AsyncTestClient[Any],
) -> None:
    limit = HttpSettings().max_batch_items
    body = b'{"reports": [' + b"1," * 4_000_000 + b"1]}"  # 8 MiB, four million items
    tracemalloc.start()
    try:
        response = await intake.post(
            "/v1/reports/batch", content=body, headers=auth("alpha") | JSON
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413, response.text
    assert response.json()["detail"] == f"at most {limit} reports per batch"
    # The body, as it came and joined, and little else: decoding every item first took
    # hundreds of megabytes for this one.
    assert peak < 4 * len(body)


async def _healthz_during_a_batch(url: str) -> tuple[float, float]:
    """(seconds the batch took, longest wait between two /healthz answers meanwhile)."""
    items = [report() for _ in range(HttpSettings().max_batch_items)]
    for item in items:  # long accounts, as the intake gets them: more to read in each
        item["incident"]["description"] *= 40
    body = json.dumps({"reports": items}).encode()
    gaps: list[float] = []
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def health() -> None:
            # The time between one answer and the next: a loop held by the batch delays the
            # answer however soon it is asked.
            last = time.perf_counter()
            while not done.is_set():
                assert (await client.get("/healthz")).status_code == 200
                now = time.perf_counter()
                gaps.append(now - last)
                last = now
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(health())
        await asyncio.sleep(0.1)
        start = time.perf_counter()
        response = await client.post(
            "/v1/reports/batch", content=body, headers=auth("alpha") | JSON
        )
        took = time.perf_counter() - start
        if response.status_code == 429:
            # A try again after a stalled one: the batch before spent the client's rate.
            done.set()
            await watcher
            await asyncio.sleep(float(response.headers["retry-after"]) + 0.2)
            return await _healthz_during_a_batch(url)
        done.set()
        await watcher
    assert response.status_code == 200, response.text
    assert response.json()["summary"] == {"accepted": len(items)}
    return took, max(gaps)


async def test_the_event_loop_answers_while_a_large_batch_is_decoded_and_standardised(
    intake_settings: Callable[..., IntakeSettings],
) -> None:
    # A real server in a thread of its own: the test client would run one request at a time.
    app = create_app(intake_settings(), configure_logging=False)
    seen = []
    with served(app) as url:
        # Held for the whole reading and standardising before (a third of the batch's time
        # and more): now a health check waits a fraction of it. A machine busy with other
        # work can stall a try (on a two-core machine running PostgreSQL and RabbitMQ beside
        # it, about two in five); the loop held by the batch stalls every one.
        for _ in range(6):
            took, longest = await _healthz_during_a_batch(url)
            seen.append(f"batch {took:.2f} s, /healthz within {longest:.3f} s")
            if longest < took / 4:
                break
        else:
            pytest.fail("; ".join(seen))
    print("; ".join(seen))


async def test_a_batch_costs_one_token_of_the_rate_for_each_report(
    intake: AsyncTestClient[Any],
) -> None:
    # The `slow` client: 0.5 a second, a burst of 3.
    def batch(count: int) -> dict[str, Any]:
        return {"reports": [report(source="slow-src") for _ in range(count)]}

    first = await intake.post("/v1/reports/batch", json=batch(2), headers=auth("slow"))
    assert first.status_code == 200, first.text
    # One token left: a batch of 2 is refused until the bucket holds 2 again (its retry
    # pays its first token again when it comes in).
    second = await intake.post("/v1/reports/batch", json=batch(2), headers=auth("slow"))
    assert second.status_code == 429, second.text
    assert "one of this client's rate per report" in second.json()["detail"]
    assert 1 <= int(second.headers["retry-after"]) <= 4


async def test_a_batch_larger_than_the_burst_is_let_through_once_and_owed(
    intake: AsyncTestClient[Any],
) -> None:
    body = {"reports": [report(source="slow-src") for _ in range(7)]}
    assert (
        await intake.post("/v1/reports/batch", json=body, headers=auth("slow"))
    ).status_code == 200
    # 7 from a burst of 3: 4 owed, and 1 for the next request, at 0.5 a second.
    after = await intake.post("/v1/reports", json=report(source="slow-src"), headers=auth("slow"))
    assert after.status_code == 429
    assert int(after.headers["retry-after"]) == 10


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("/v1/reports", "incident"),
        ("/v1/reports/batch", "item"),
        ("/v1/reports/batch", "batch"),
        ("/v1/sources/citizen/reports", "anmelder"),
    ],
)
async def test_an_unknown_key_is_named_without_quoting_it(
    intake: AsyncTestClient[Any], url: str, where: str
) -> None:
    if url.endswith("citizen/reports"):
        body: Any = json.loads((EXAMPLES / "sources" / "citizen.json").read_text("utf-8"))
        body["anmelder"][IDENTITY] = 1
        path = "$.anmelder.…"
    else:
        body = report()
        body["incident"][IDENTITY] = 1
        path = "$.incident.…"
        if where == "item":
            body = {"reports": [body, {IDENTITY: 1}]}
        elif where == "batch":
            body, path = {"reports": [report()], IDENTITY: 1}, "$.…"
    response = await intake.post(url, json=body, headers=auth("alpha"))
    assert IDENTITY not in response.text
    if where == "item":
        results = response.json()["results"]
        assert [r["problems"] for r in results] == [
            [{"path": "$.incident.…", "message": "Object contains unknown field"}],
            [
                {"path": "$.source", "message": "Object missing required field"},
                {"path": "$.external_id", "message": "Object missing required field"},
                {"path": "$.reported_at", "message": "Object missing required field"},
                {"path": "$.incident", "message": "Object missing required field"},
                {"path": "$.offences", "message": "Object missing required field"},
                {"path": "$.…", "message": "Object contains unknown field"},
            ],
        ]
        return
    assert response.status_code == 422, response.text
    assert {"path": path, "message": "Object contains unknown field"} in response.json()["errors"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("external_id", "ref-1\r\nX-Injected: yes"),
        ("name", "Kari\x1b[31m Nordmann"),
        ("code", "strl-321\x85"),
        ("municipality_name", "Oslo\x7f"),
        ("phone", "+47 22\t00 00 00"),
        ("description", "Line one\r\nLine two\x1b]0;title\x07"),
    ],
)
async def test_control_characters_are_refused_where_they_stand(
    intake: AsyncTestClient[Any], field: str, value: str
) -> None:
    body = report()
    where = {
        "external_id": ("$.external_id", body),
        "name": ("$.persons[0].name", body["persons"][0]),
        "code": ("$.offences[0].code", body["offences"][0]),
        "municipality_name": ("$.incident.municipality_name", body["incident"]),
        "phone": ("$.persons[0].phone", body["persons"][0]),
        "description": ("$.incident.description", body["incident"]),
    }
    path, holder = where[field]
    holder[field] = value
    response = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["path"] == path
    assert "control characters" in error["message"]
    assert "regex" not in error["message"]
    assert "\\x" not in error["message"]


async def test_free_text_keeps_tabs_and_line_breaks_of_every_kind(
    intake: AsyncTestClient[Any],
) -> None:
    body = report()
    body["incident"]["description"] = "Windows\r\nUnix\nOld Mac\rTab\there"
    posted = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    assert posted.status_code == 202, posted.text
    stored = (await intake.get(posted.headers["location"], headers=auth("alpha"))).json()
    assert stored["report"]["incident"]["description"] == "Windows\nUnix\nOld Mac\nTab\there"


@pytest.mark.parametrize(
    ("format_name", "change", "path"),
    [
        ("citizen", {"referanse": "A-1\nA-2"}, "$.referanse"),
        ("patrol", {"unit": "P\x1b30"}, "$.unit"),
        ("agency", {"meldingsId": "M\u00851"}, "$.meldingsId"),
    ],
)
async def test_control_characters_are_refused_in_the_source_formats(
    intake: AsyncTestClient[Any], format_name: str, change: dict[str, Any], path: str
) -> None:
    body = json.loads((EXAMPLES / "sources" / f"{format_name}.json").read_text("utf-8"))
    body.update(change)
    response = await intake.post(
        f"/v1/sources/{format_name}/reports", json=body, headers=auth("alpha")
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["path"] == path
    assert "control characters" in error["message"]
