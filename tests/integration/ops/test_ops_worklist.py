"""The work list on the operations page, in its JSON and in the gauges: rows set up in
PostgreSQL, read by the real monitor of the real intake; what waits in triage is the work
list, whatever the triage queue (a feed of copies for other tools) holds."""

from __future__ import annotations

import datetime as dt
import html
import json
import uuid
from typing import Any

import aio_pika
import asyncpg

from tests.integration.ops.test_ops import overview, post_examples, scrape, value
from tests.integration.ops.test_ops_relay import tile
from tests.integration.stack import Stack
from tests.support.clients import auth

_ITEM = """
INSERT INTO work_items (report_id, district, source, reason, priority, priority_rank,
                        received_at, waiting_since, state)
VALUES ($1, $2, 'alpha-src', $3, 'normal', 1, $4, $4, $5)
ON CONFLICT (report_id) DO UPDATE
SET district = $2, reason = $3, waiting_since = $4, state = $5, claimed_by = NULL,
    claim_role = NULL, claim_token = NULL, lease_until = NULL, pending_act = NULL
"""
_ACT = """
INSERT INTO person_acts (id, report_id, kind, actor, actor_role, details, reason)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
"""


async def _act(
    conn: asyncpg.Connection, report: str, kind: str, actor: str, **details: Any
) -> uuid.UUID:
    act = uuid.uuid4()
    role = "prosecutor" if actor == "pia" else "assessor"
    await conn.execute(
        _ACT, act, uuid.UUID(report), kind, actor, role, json.dumps(details), "free text"
    )
    return act


async def _set_up(stack: Stack) -> dict[str, str]:
    """Oslo: one report waiting 3 h (quality issues), one closure proposed, one downgrade
    not reviewed; Vest: one waiting 20 min (a rule) and a downgrade already reviewed."""
    ids = await post_examples(stack)
    oslo, vest, proposed = ids.values()
    now = dt.datetime.now(dt.UTC)
    conn = await asyncpg.connect(stack.database_url)
    try:
        async with conn.transaction():
            for report, district, reason, since, state in (
                (oslo, "oslo", "quality_issues", now - dt.timedelta(hours=3), "waiting"),
                (vest, "vest", "rule", now - dt.timedelta(minutes=20), "waiting"),
                (proposed, "oslo", "rule", now - dt.timedelta(hours=30), "proposed"),
            ):
                await conn.execute(_ITEM, uuid.UUID(report), district, reason, since, state)
            closure = await _act(conn, proposed, "closure_proposed", "anne", ground="x")
            await conn.execute(
                "UPDATE work_items SET pending_act = $1 WHERE report_id = $2",
                closure,
                uuid.UUID(proposed),
            )
            await _act(conn, oslo, "routed", "anne", downgrade=True, unit="oslo.vold")
            await _act(conn, oslo, "routed", "anne", downgrade=False, unit="oslo.vold")
            lowered = await _act(conn, vest, "corrected", "per", downgrade=True, version=2)
            await _act(conn, vest, "downgrade_reviewed", "pia", act=str(lowered))
    finally:
        await conn.close()
    return {"oslo": oslo, "vest": vest, "proposed": proposed}


async def test_the_work_list_by_district_in_the_overview_the_page_and_the_gauges(
    stack: Stack,
) -> None:
    await _set_up(stack)
    body = await overview(stack)
    listed = body["worklist"]
    assert listed["waiting"] == 2
    assert listed["pending"] == {"closure": 1, "transfer": 0, "downgrade": 1}
    districts = {d["district"]: d for d in listed["districts"]}
    assert set(districts) == {"oslo", "vest"}
    assert districts["oslo"]["waiting"] == 1
    assert districts["oslo"]["by_reason"] == {"quality_issues": 1}
    # Waiting since 3 h before the rows were written; the reading came a few seconds later.
    assert 3 * 3600 <= districts["oslo"]["oldest_seconds"] < 3 * 3600 + 60
    assert districts["oslo"]["pending"] == {"closure": 1, "downgrade": 1}
    assert 20 * 60 <= districts["vest"]["oldest_seconds"] < 20 * 60 + 60
    assert districts["vest"]["pending"] == {}
    assert listed["oldest_seconds"] == districts["oslo"]["oldest_seconds"]
    cards = {d["name"]: d for d in body["districts"]}
    assert (cards["Oslo"]["triage_waiting"], cards["Oslo"]["proposals_pending"]) == (1, 1)
    assert cards["Vest"]["triage_waiting"] == 1
    assert (cards["Agder"]["triage_waiting"], cards["Agder"]["triage_oldest_seconds"]) == (0, None)

    page = await stack.intake.get("/ops", headers=auth("ops"))
    assert page.status_code == 200
    assert 'id="tile-worklist"><span class="n">2</span>' in page.text
    assert "the oldest waiting 3 h" in page.text
    assert 'id="tile-proposals"><span class="n">1</span>' in page.text
    assert "1 downgrade to review" in page.text
    assert '<tr data-district="oslo"><th scope="row">oslo</th><td data-col="waiting">1</td>' in (
        page.text
    )
    assert '<td data-col="oldest">20 min</td>' in page.text
    assert "1 on the work list, oldest 3 h" in page.text
    assert "free text" not in page.text

    samples = await scrape(stack)
    waiting = "fsi_triage_waiting_reports"
    assert value(samples, waiting, district="oslo", reason="quality_issues") == 1
    assert value(samples, waiting, district="vest", reason="rule") == 1
    assert samples[(waiting, frozenset({("district", "agder"), ("reason", "rule")}))] == 0
    oldest = value(samples, "fsi_triage_oldest_waiting_age_seconds", district="oslo")
    assert 3 * 3600 <= oldest < 3 * 3600 + 60
    pending = "fsi_triage_approvals_pending"
    assert [value(samples, pending, kind=k) for k in ("closure", "transfer", "downgrade")] == [
        1,
        0,
        1,
    ]


async def test_nothing_waiting_reads_as_zero(stack: Stack) -> None:
    body = await overview(stack)
    assert body["worklist"] == {
        "waiting": 0,
        "oldest_seconds": None,
        "pending": {"closure": 0, "transfer": 0, "downgrade": 0},
        "districts": [],
    }
    page = await stack.intake.get("/ops", headers=auth("ops"))
    assert "Nothing waits for a person." in page.text
    samples = await scrape(stack)
    assert (
        samples[("fsi_triage_oldest_waiting_age_seconds", frozenset({("district", "oslo")}))] == 0
    )


async def test_waiting_in_triage_is_the_work_list_not_the_triage_queue(
    stack: Stack, amqp_url: str
) -> None:
    """The trial's picture: copies pile up in the triage queue, which nothing of ours
    consumes, while people keep the work list short. The page, the overview and the gauges
    count the work list as what waits in triage, and show the queue as the feed it is."""
    await _set_up(stack)
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        cases = await channel.get_exchange(stack.topology.cases_exchange.name)
        for n in range(13):
            await cases.publish(aio_pika.Message(b"{}", message_id=f"copy-{n}"), "triage")
        feed = await channel.declare_queue(stack.topology.triage_queue.name, passive=True)
        depth = feed.declaration_result.message_count or 0
    finally:
        await connection.close()
    assert depth >= 13  # and any copy the router published for a triaged example

    body = await overview(stack)
    assert body["triage"]["ready"] == depth
    assert body["worklist"]["waiting"] == 2  # oslo's and vest's rows; the third is proposed
    assert body["worklist"]["pending"]["closure"] == 1

    page = await stack.intake.get("/ops", headers=auth("ops"))
    shown = html.unescape(page.text)
    assert tile(shown, "worklist") == "2"
    assert "waiting in triage, on the people's work list, the oldest waiting 3 h" in shown
    assert tile(shown, "proposals") == "1"
    assert tile(shown, "triage-feed") == str(depth)
    assert "copies in the triage feed for other tools" in shown
    assert (
        "Waiting in triage: 2, the oldest for 3 h; proposals for a prosecutor: 1; "
        "downgrades to review: 1; dead letters: 0;"
    ) in shown
    assert f"Waiting in triage: {depth}" not in shown

    samples = await scrape(stack)
    waiting = sum(v for (name, _), v in samples.items() if name == "fsi_triage_waiting_reports")
    assert waiting == 2
    queue = stack.topology.triage_queue.name
    ready = value(
        samples, "fsi_queue_messages_ready", queue=queue, kind="triage", district="", unit=""
    )
    assert ready == depth
