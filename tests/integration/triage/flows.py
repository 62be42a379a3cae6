"""What the workbench's end-to-end tests do again and again: a report posted by a machine
client and waiting on the work list, a person's request with their real access token, a
case taken from its unit's queue, a report read back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aio_pika
import asyncpg
import msgspec

from schemas.envelope import CaseRouted
from tests.integration.conftest import drain
from tests.integration.stack import Stack, example, first_row
from tests.support import people
from tests.support.clients import auth

PROBLEMS = "https://fsi-intake.politiet.example/problems/"


async def post(stack: Stack, **changes: Any) -> str:
    """A report of the bicycle theft example (no persons: no identity numbers) posted by the
    machine client `alpha`; its id."""
    body = example("bicycle-theft", persons=[], **changes)
    answer = await stack.intake.post("/v1/reports", json=body, headers=auth("alpha"))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["report_id"])


def in_municipality(number: str) -> dict[str, Any]:
    """The example's incident placed in another municipality (`9998`: none has that number)."""
    return {"incident": dict(example("bicycle-theft")["incident"], municipality=number)}


async def waiting(stack: Stack, report_id: str, within: float = 15) -> asyncpg.Record:
    """The report's work list row, once the router put it there (the triage queue confirmed
    the rules' case)."""
    query = "SELECT * FROM work_items WHERE report_id = $1"
    return await first_row(stack.database_url, query, uuid.UUID(report_id), within=within)


async def as_person(
    stack: Stack,
    who: str,
    method: str,
    path: str,
    json: Any = None,
    key: str | None = None,
) -> Any:
    """A request of a development person with their real access token (and an
    `Idempotency-Key` when given)."""
    headers = await people.bearer_for(who)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await stack.intake.request(method, path, json=json, headers=headers)


async def listed(stack: Stack, who: str, **query: Any) -> list[str]:
    """The report ids on `who`'s work list (one page: a test has fewer than 50)."""
    answer = await stack.intake.get(
        "/v1/triage", params={"limit": 50, **query}, headers=await people.bearer_for(who)
    )
    assert answer.status_code == 200, answer.text
    return [item["report_id"] for item in answer.json()["items"]]


async def claim(stack: Stack, who: str, report_id: str) -> str:
    """`who` claims the report; the claim's token."""
    answer = await as_person(stack, who, "POST", f"/v1/triage/{report_id}/claim")
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


async def deliveries(stack: Stack, act_id: str, within: float = 15) -> int:
    """The delivery rows of a person's case, once it has one (0 after `within` seconds)."""
    conn = await asyncpg.connect(stack.database_url)
    try:
        for _ in range(int(within * 20)):
            count = await conn.fetchval(
                "SELECT count(*) FROM person_case_deliveries WHERE decision_id = $1",
                uuid.UUID(act_id),
            )
            if count:
                return int(count)
            await asyncio.sleep(0.05)
        return 0
    finally:
        await conn.close()


async def cases_in(
    stack: Stack, unit: str, expected: int = 1
) -> list[tuple[aio_pika.abc.AbstractIncomingMessage, CaseRouted]]:
    """Every case in the unit's queue (waiting a moment past `expected` for any extra, as a
    duplicate would be), each message with its decoded case."""
    queue = await stack.queue(stack.topology.unit_queue(unit).name)
    return [
        (message, msgspec.json.decode(message.body, type=CaseRouted))
        for message in await drain(queue, expected)
    ]


async def read(stack: Stack, report_id: str, who: str | None = None) -> dict[str, Any]:
    """`GET /v1/reports/{id}` by a person (their token) or, `who` None, the client `alpha`."""
    headers = await people.bearer_for(who) if who else auth("alpha")
    answer = await stack.intake.get(f"/v1/reports/{report_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def read_when(stack: Stack, report_id: str, status: str, who: str) -> dict[str, Any]:
    """The report once its status is `status` (AssertionError with the last one after 15 s)."""
    body = await read(stack, report_id, who)
    for _ in range(300):
        if body["status"] == status:
            return body
        await asyncio.sleep(0.05)
        body = await read(stack, report_id, who)
    raise AssertionError(f"{report_id} is {body['status']}, not {status}")


async def value(stack: Stack, sql: str, *args: Any) -> Any:
    """One value from the database (as its owner)."""
    conn = await asyncpg.connect(stack.database_url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


def problem_type(answer: Any) -> str:
    """The problem's type slug; AssertionError when the answer is not a problem."""
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    kind: str = answer.json()["type"]
    return kind.removeprefix(PROBLEMS)
