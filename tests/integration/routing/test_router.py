"""The router against the real RabbitMQ and PostgreSQL, fed by the real intake."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from schemas.envelope import CASE_ROUTED_TYPE, CaseRouted
from services.common.settings import BrokerSettings, DatabaseSettings, LogSettings
from services.common.topology import REPORT_ACCEPTED_KEY, Topology
from services.intake.app import create_app
from services.intake.settings import IntakeSettings, StandardiseSettings
from services.routing.cli import main as cli_main
from services.routing.main import RulesWatch, load_rules, serve
from services.routing.settings import RoutingSettings, RulesSettings
from tests.integration.conftest import auth, unique

ROOT = Path(__file__).parents[3]
EXAMPLES = ROOT / "schemas" / "examples"


@dataclass
class Stack:
    intake: AsyncTestClient[Any]
    channel: aio_pika.abc.AbstractChannel
    topology: Topology
    database_url: str
    watch: RulesWatch | None
    rules_file: Path

    async def queue(self, name: str) -> aio_pika.abc.AbstractQueue:
        return await self.channel.get_queue(name)


@pytest.fixture
async def stack(
    tmp_path: Path,
    database_url: str,
    amqp_url: str,
    intake_settings: Callable[..., IntakeSettings],
    make_topology: Callable[..., Topology],
) -> AsyncIterator[Stack]:
    rules_file = tmp_path / "rules.yaml"
    shutil.copy(ROOT / "deploy/routing/rules.yaml", rules_file)
    base = intake_settings()
    routing = RoutingSettings(
        # The template database is migrated already; and a router holding the migration lock
        # while the test client blocks this loop to start the intake would deadlock it.
        db=DatabaseSettings(url=database_url, pool_min=1, pool_max=4, migrate_on_start=False),
        broker=BrokerSettings(url=amqp_url, prefix=base.broker.prefix),
        log=LogSettings(),
        rules=RulesSettings(file=str(rules_file)),
    )
    topology = make_topology(units=load_rules(routing).catalogue.units)
    settings = msgspec.structs.replace(
        base, standardise=StandardiseSettings(accept_synthetic_ids=True)
    )
    stop = asyncio.Event()
    watches: list[RulesWatch] = []
    connection = await aio_pika.connect(amqp_url)
    router: asyncio.Task[None] | None = None
    try:
        async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
            router = asyncio.create_task(serve(routing, stop, on_start=watches.append))
            for _ in range(200):
                if watches:
                    break
                await asyncio.sleep(0.05)
            yield Stack(
                client, await connection.channel(), topology, database_url, watches[0], rules_file
            )
    finally:
        stop.set()
        if router is not None:
            await asyncio.wait_for(router, 20)
        await connection.close()


def example(name: str, **changes: Any) -> dict[str, Any]:
    body = json.loads((EXAMPLES / f"report.{name}.json").read_text("utf-8"))
    body.update(source="alpha-src", external_id=unique(name), **changes)
    return body


async def wait_routed(database_url: str, count: int, within: float = 15) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(int(within * 20)):
            if await conn.fetchval("SELECT count(*) FROM decisions") >= count:
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError(f"fewer than {count} reports were routed in {within} s")


async def take(
    queue: aio_pika.abc.AbstractQueue, count: int
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    got = []
    for _ in range(400):
        message = await queue.get(fail=False)
        if message is not None:
            await message.ack()
            got.append(message)
            if len(got) == count:
                break
        else:
            await asyncio.sleep(0.05)
    return got


async def test_post_is_routed_with_priority_deadline_and_audit(stack: Stack) -> None:
    posted = await stack.intake.post(
        "/v1/reports", json=example("domestic-violence"), headers=auth("alpha")
    )
    report_id = posted.json()["report_id"]
    await wait_routed(stack.database_url, 1)
    queue = await stack.queue(stack.topology.unit_queue("trondelag.vold-naere-relasjoner").name)
    (message,) = await take(queue, 1)
    assert message.message_id == report_id
    assert message.type == CASE_ROUTED_TYPE
    assert message.priority == 9
    assert message.headers["x-fsi-priority"] == "critical"
    case = msgspec.json.decode(message.body, type=CaseRouted)
    assert case.decision.unit == "trondelag.vold-naere-relasjoner"
    assert case.decision.deadline is not None
    assert case.decision.deadline.rule_id == "custody-adult"
    assert message.headers["x-fsi-deadline"] == case.decision.deadline.due_at.isoformat()
    assert "domestic-violence" in case.decision.matched_rules
    shown = (await stack.intake.get(f"/v1/reports/{report_id}", headers=auth("alpha"))).json()
    assert shown["status"] == "routed"
    assert shown["decision"]["unit"] == "trondelag.vold-naere-relasjoner"


async def test_mixed_priorities_are_consumed_most_urgent_first(stack: Stack) -> None:
    theft = {"offences": [{"code": "strl-321"}], "persons": []}
    bodies = [
        example("bicycle-theft", **theft),
        example("bicycle-theft", offences=[{"code": "strl-323"}], persons=[]),
        example("bicycle-theft", **theft, flags={"ongoing_danger": True}),
        example("bicycle-theft", **theft, flags={"weapon": True}),
    ]
    for body in bodies:
        assert (
            await stack.intake.post("/v1/reports", json=body, headers=auth("alpha"))
        ).status_code == 202
    await wait_routed(stack.database_url, 4)
    queue = await stack.queue(stack.topology.unit_queue("oslo.felles-etterforskning").name)
    got = await take(queue, 4)
    assert [m.headers["x-fsi-priority"] for m in got] == ["critical", "high", "normal", "low"]


async def test_redelivery_republishes_the_stored_decision(stack: Stack) -> None:
    posted = await stack.intake.post(
        "/v1/reports", json=example("bicycle-theft", persons=[]), headers=auth("alpha")
    )
    report_id = posted.json()["report_id"]
    await wait_routed(stack.database_url, 1)
    queue = await stack.queue(stack.topology.unit_queue("oslo.felles-etterforskning").name)
    (first,) = await take(queue, 1)
    # The same message again, as after a crash between publish and ack.
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    conn = await asyncpg.connect(stack.database_url)
    payload = await conn.fetchval(
        "SELECT payload FROM outbox WHERE report_id = $1", uuid.UUID(report_id)
    )
    await reports.publish(
        aio_pika.Message(payload, message_id=report_id), routing_key=REPORT_ACCEPTED_KEY
    )
    (second,) = await take(queue, 1)
    assert (
        await conn.fetchval(
            "SELECT count(*) FROM decisions WHERE report_id = $1", uuid.UUID(report_id)
        )
        == 1
    )
    await conn.close()
    assert second.message_id == first.message_id == report_id
    one = msgspec.json.decode(first.body, type=CaseRouted).decision
    two = msgspec.json.decode(second.body, type=CaseRouted).decision
    assert one == two


async def test_poison_goes_to_the_dead_letter_queue_with_its_reason(stack: Stack) -> None:
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    await reports.publish(
        aio_pika.Message(b'{"report_id": "Kari 24869023120"}', message_id="x"),
        routing_key=REPORT_ACCEPTED_KEY,
    )
    await reports.publish(aio_pika.Message(b"\xff not json"), routing_key=REPORT_ACCEPTED_KEY)
    dead = await take(await stack.queue(stack.topology.dead_letter_queue.name), 2)
    reasons = [m.headers["x-fsi-reason"] for m in dead]
    assert all(r.startswith("not a fsi.report.accepted.v1 message") for r in reasons)
    assert not any("24869023120" in r or "Kari" in r for r in reasons)
    routing = await stack.queue(stack.topology.routing_queue.name)
    assert routing.declaration_result.message_count == 0


async def test_unknown_municipality_goes_to_triage(stack: Stack) -> None:
    body = example("bicycle-theft")
    body["incident"]["municipality"] = "9998"
    posted = await stack.intake.post("/v1/reports", json=body, headers=auth("alpha"))
    await wait_routed(stack.database_url, 1)
    (message,) = await take(await stack.queue(stack.topology.triage_queue.name), 1)
    assert message.message_id == posted.json()["report_id"]
    decision = msgspec.json.decode(message.body, type=CaseRouted).decision
    assert "quality issue municipality.unknown" in decision.triage_reasons
    shown = (await stack.intake.get(posted.headers["location"], headers=auth("alpha"))).json()
    assert shown["status"] == "triaged"


async def test_invalid_rules_are_refused_on_reload_while_routing_goes_on(stack: Stack) -> None:
    assert stack.watch is not None
    before = stack.watch.router.ruleset.version
    stack.rules_file.write_text("version: 1\nrules: [{id: broken}]\n", "utf-8")
    assert await stack.watch.reload() is False
    assert stack.watch.reloads_failed == 1
    assert stack.watch.router.ruleset.version == before
    posted = await stack.intake.post(
        "/v1/reports", json=example("bicycle-theft", persons=[]), headers=auth("alpha")
    )
    await wait_routed(stack.database_url, 1)
    (message,) = await take(
        await stack.queue(stack.topology.unit_queue("oslo.felles-etterforskning").name), 1
    )
    assert message.message_id == posted.json()["report_id"]
    good = (ROOT / "deploy/routing/rules.yaml").read_text("utf-8") + "\n# reviewed\n"
    stack.rules_file.write_text(good, "utf-8")
    assert await stack.watch.reload() is True
    assert stack.watch.router.ruleset.version != before


async def test_a_report_unknown_to_the_database_is_dead_lettered(stack: Stack) -> None:
    posted = await stack.intake.post(
        "/v1/reports", json=example("bicycle-theft", persons=[]), headers=auth("alpha")
    )
    await wait_routed(stack.database_url, 1)
    conn = await asyncpg.connect(stack.database_url)
    payload = await conn.fetchval(
        "SELECT payload FROM outbox WHERE report_id = $1", uuid.UUID(posted.json()["report_id"])
    )
    await conn.close()
    stranger = str(uuid.uuid4())
    foreign = payload.replace(posted.json()["report_id"].encode(), stranger.encode())
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    await reports.publish(
        aio_pika.Message(foreign, message_id=stranger), routing_key=REPORT_ACCEPTED_KEY
    )
    (dead,) = await take(await stack.queue(stack.topology.dead_letter_queue.name), 1)
    assert dead.message_id == stranger
    assert dead.headers["x-fsi-reason"] == "no such report in the intake's database"


async def test_replay_shows_what_a_candidate_rule_set_would_change(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fraud = example("bicycle-theft", persons=[], offences=[{"code": "strl-371"}])
    theft = example("bicycle-theft", persons=[])
    ids = []
    for body in (fraud, theft):
        ids.append(
            (await stack.intake.post("/v1/reports", json=body, headers=auth("alpha"))).json()[
                "report_id"
            ]
        )
    await wait_routed(stack.database_url, 2)
    candidate = tmp_path / "candidate.yaml"
    text = (ROOT / "deploy/routing/rules.yaml").read_text("utf-8")
    candidate.write_text(
        text.replace(
            "    when: {offence: {code: [strl-371, strl-378, strl-325, strl-361]}}\n"
            "    then: {section: okonomi-og-miljo}",
            "    when: {offence: {code: [strl-371, strl-378, strl-325, strl-361]}}\n"
            "    then: {section: digitalt-politiarbeid, priority: high}",
        ),
        "utf-8",
    )
    assert candidate.read_text("utf-8") != text
    monkeypatch.setenv("FSI_DB_URL", stack.database_url)
    out = io.StringIO()
    # The command runs its own event loop, as from a shell: in a thread here.
    code = await asyncio.to_thread(
        cli_main, ["replay", str(candidate), "--since", "2000-01-01"], out
    )
    report = out.getvalue()
    assert code == 0, report
    assert "replayed 2 reports" in report
    assert "1 would change" in report
    assert "unit oslo.okonomi-og-miljo -> oslo.digitalt-politiarbeid: 1" in report
    assert "priority normal -> high: 1" in report
    assert ids[0] in report
    assert ids[1] not in report
    same = io.StringIO()
    default = str(ROOT / "deploy/routing/rules.yaml")
    assert (
        await asyncio.to_thread(cli_main, ["replay", default, "--since", "2000-01-01"], same) == 0
    )
    assert "0 would change" in same.getvalue()
