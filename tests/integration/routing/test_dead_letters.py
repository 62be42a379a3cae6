"""A report the router dead-letters says so: its status is `dead_lettered` with the code and
reason (no personal data), recorded append-only, until it is routed after all; a message
naming no report of the database is dead-lettered and recorded nowhere."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import uuid
from typing import Any

import aio_pika
import asyncpg
import pytest

from services.common.rules.index import RuleIndex
from services.common.rules.ruleset import RuleSet
from services.common.topology import REPORT_ACCEPTED_KEY
from tests.integration.stack import Stack, example, message_ids, take, wait_routed
from tests.support.clients import auth

EXAMPLE = "domestic-violence"  # an arrested adult suspect: rule custody-adult decides its deadline
PERSONAL = ("30897534505", "03911251212", "12838512311", "Testesen", "Eksempelveien")


def changed(ruleset: RuleSet, rule_id: str, **changes: Any) -> RuleSet:
    """The rule set with one rule changed, as a rules file would compile it."""
    rules = tuple(
        dataclasses.replace(r, **changes) if r.id == rule_id else r for r in ruleset.rules
    )
    assert rules != ruleset.rules, rule_id
    return dataclasses.replace(ruleset, rules=rules, index=RuleIndex(rules))


def overflowing(ruleset: RuleSet) -> RuleSet:
    """The new user's rules: custody-adult with `deadline: {days: 3000000, from: arrest}`.
    A datetime ends at year 9999, so 3,000,000 days (about 8,200 years) after a 2026 arrest
    cannot be computed. Built as the compiled rule set, whatever the rules reader allows."""
    custody = next(r for r in ruleset.rules if r.id == "custody-adult")
    assert custody.deadline is not None
    deadline = dataclasses.replace(custody.deadline, after=dt.timedelta(days=3_000_000))
    return changed(ruleset, "custody-adult", deadline=deadline)


def raising(ruleset: RuleSet) -> RuleSet:
    """A rule set whose domestic-violence rule raises when it is tested."""

    def test(facts: Any) -> bool:
        raise LookupError("a fault in a rule")

    return changed(ruleset, "domestic-violence", test=test)


async def shown(stack: Stack, report_id: str) -> dict[str, Any]:
    answer = await stack.intake.get(f"/v1/reports/{report_id}", headers=auth("alpha"))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def dead_letter_rows(stack: Stack, report_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(stack.database_url)
    try:
        return list(
            await conn.fetch(
                "SELECT code, reason FROM dead_letters WHERE report_id = $1 ORDER BY id",
                uuid.UUID(report_id),
            )
        )
    finally:
        await conn.close()


async def until_status(stack: Stack, report_id: str, wanted: str) -> dict[str, Any]:
    for _ in range(300):
        body = await shown(stack, report_id)
        if body["status"] == wanted:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{report_id} never {wanted}: {body['status']}")


async def publish(stack: Stack, body: bytes, message_id: str | None) -> None:
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    await reports.publish(
        aio_pika.Message(body, message_id=message_id), routing_key=REPORT_ACCEPTED_KEY
    )


async def post(stack: Stack) -> str:
    posted = await stack.intake.post("/v1/reports", json=example(EXAMPLE), headers=auth("alpha"))
    assert posted.status_code == 202, posted.text
    return str(posted.json()["report_id"])


@pytest.mark.parametrize(
    ("broken", "error"), [(overflowing, "OverflowError"), (raising, "LookupError")]
)
async def test_a_report_the_rules_fail_on_says_dead_lettered_until_routed_after_all(
    stack: Stack, broken: Any, error: str
) -> None:
    assert stack.watch is not None
    good = stack.watch.router.ruleset
    stack.watch.router.ruleset = broken(good)
    report_id = await post(stack)
    (dead,) = await take(await stack.queue(stack.topology.dead_letter_queue.name), 1)
    reason = f"the router could not decide or store a decision: {error}"
    assert (dead.message_id, dead.headers["x-fsi-reason"]) == (report_id, reason)
    body = await until_status(stack, report_id, "dead_lettered")
    # It was published; the sender now learns that the router could not route it.
    assert body["published_at"] is not None
    assert body["decision"] is None
    assert body["dead_letter"]["code"] == "decision_failed"
    assert body["dead_letter"]["reason"] == reason
    assert body["dead_letter"]["at"].endswith("Z")
    assert [tuple(r) for r in await dead_letter_rows(stack, report_id)] == [
        ("decision_failed", reason)
    ]
    assert not any(p in json.dumps(body["dead_letter"]) for p in PERSONAL)

    # The rules repaired; the operator republishes the dead letter as it was.
    stack.watch.router.ruleset = good
    await publish(stack, dead.body, dead.message_id)
    body = await until_status(stack, report_id, "routed")
    assert body["dead_letter"] is None
    assert body["decision"]["unit"] == "trondelag.vold-naere-relasjoner"
    # The record stays: dead letters are append-only.
    conn = await asyncpg.connect(stack.database_url)
    try:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("DELETE FROM dead_letters")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute("UPDATE dead_letters SET code = 'x'")
    finally:
        await conn.close()
    assert len(await dead_letter_rows(stack, report_id)) == 1


async def test_an_unknown_report_id_is_dead_lettered_and_recorded_nowhere(stack: Stack) -> None:
    report_id = await post(stack)
    await wait_routed(stack.database_url, 1)
    conn = await asyncpg.connect(stack.database_url)
    try:
        payload = await conn.fetchval(
            "SELECT payload FROM outbox WHERE report_id = $1", uuid.UUID(report_id)
        )
        before = await conn.fetchval("SELECT count(*) FROM dead_letters")
    finally:
        await conn.close()
    strangers = [str(uuid.uuid4()) for _ in range(2)]
    # One in a readable envelope, one whose body is not JSON at all.
    await publish(stack, payload.replace(report_id.encode(), strangers[0].encode()), strangers[0])
    await publish(stack, b"\xff not json", strangers[1])
    dead = await take(await stack.queue(stack.topology.dead_letter_queue.name), 2)
    assert sorted(message_ids(dead)) == sorted(strangers)
    conn = await asyncpg.connect(stack.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM dead_letters") == before
    finally:
        await conn.close()
    for stranger in strangers:
        answer = await stack.intake.get(f"/v1/reports/{stranger}", headers=auth("ops"))
        assert answer.status_code == 404
    # The router goes on: the next report is routed.
    after = await post(stack)
    assert (await until_status(stack, after, "routed"))["dead_letter"] is None


async def test_a_reports_own_message_unreadable_says_why_and_the_latest_counts(
    stack: Stack,
) -> None:
    """A report's own message (its id as message_id) that cannot be read is recorded under
    that report; a copy under another id is no report's own message; a decision outranks a
    later dead letter (a stray copy of a report already routed)."""
    assert stack.watch is not None
    good = stack.watch.router.ruleset
    stack.watch.router.ruleset = raising(good)
    report_id = await post(stack)
    (first,) = await take(await stack.queue(stack.topology.dead_letter_queue.name), 1)
    await until_status(stack, report_id, "dead_lettered")
    envelope = json.loads(first.body)
    envelope["report"]["incident"] = "not an incident"
    await publish(stack, json.dumps(envelope).encode(), report_id)  # its contract broken
    await publish(stack, b"\xff not json", report_id)  # not JSON
    mismatch = str(uuid.uuid4())
    await publish(stack, first.body, mismatch)  # its id and its body disagree
    dead = await take(await stack.queue(stack.topology.dead_letter_queue.name), 3)
    assert [m.message_id for m in dead] == [report_id, report_id, mismatch]
    rows = await dead_letter_rows(stack, report_id)
    assert [r["code"] for r in rows] == ["decision_failed", "contract", "undecodable"]
    body = await shown(stack, report_id)
    assert body["status"] == "dead_lettered"
    assert body["dead_letter"]["code"] == "undecodable"
    assert body["dead_letter"]["reason"].startswith("not a fsi.report.accepted.v1 message")
    # The contract reason names the field, never its value.
    assert "`$.incident`" in rows[1]["reason"]
    assert "not an incident" not in rows[1]["reason"]

    stack.watch.router.ruleset = good
    await publish(stack, first.body, report_id)
    await until_status(stack, report_id, "routed")
    await publish(stack, b"\xff not json", report_id)  # a stray copy after it was routed
    await take(await stack.queue(stack.topology.dead_letter_queue.name), 1)
    assert len(await dead_letter_rows(stack, report_id)) == 4
    body = await shown(stack, report_id)
    assert (body["status"], body["dead_letter"]) == ("routed", None)
