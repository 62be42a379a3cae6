"""The broker users of `fsi-broker-access` on the real RabbitMQ, in a virtual host of the
test's own: each user × each action allowed or refused (ACCESS_REFUSED) as designed, and the
intake and the router, each with its own user, routing a report to a unit that reads it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import aiormq
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.common.broker import broker_error
from services.common.settings import BrokerSettings, DatabaseSettings, LogSettings, RulesSettings
from services.common.startup import EXIT_TOPOLOGY
from services.common.topology import REPORT_ACCEPTED_KEY, Topology, declare
from services.common.topology_mismatch import TopologyMissing
from services.intake.app import create_app
from services.intake.settings import IntakeSettings, OpsSettings, StandardiseSettings
from services.routing.brokeraccess import definitions
from services.routing.declare import declare_all
from services.routing.main import RulesWatch, load_rules, serve
from services.routing.settings import MetricsSettings, RoutingSettings
from tests import harness
from tests.integration.stack import example
from tests.support.clients import auth

pytestmark = pytest.mark.integration

UNIT_A = "trondelag.vold-naere-relasjoner"  # where the domestic-violence example goes
UNIT_B = "oslo.felles-etterforskning"


@dataclass(frozen=True)
class Access:
    """The users of one topology, imported into a virtual host of the test's own."""

    topology: Topology
    vhost: str
    passwords: dict[str, str]

    def url(self, role: str) -> str:
        user = f"{self.topology.prefix}{role}"
        quote = urllib.parse.quote
        return (
            f"amqp://{quote(user, safe='')}:{quote(self.passwords[user], safe='')}"
            f"@127.0.0.1:5672/{quote(self.vhost, safe='')}"
        )


def _ctl(*args: str) -> str:
    done = subprocess.run(  # noqa: S603
        ["rabbitmqctl", "--quiet", *args],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"rabbitmqctl {args[0]}: {done.stderr.strip()[-300:]}")
    return done.stdout


@contextmanager
def imported(
    endpoints: harness.Endpoints, topology: Topology, roles: list[str]
) -> Iterator[Access]:
    """The definitions `fsi-broker-access` writes (for these roles' users, with passwords),
    imported as an operator does (`rabbitmqctl import_definitions`), removed afterwards."""
    local = urlsplit(endpoints.amqp_url).hostname in {"127.0.0.1", "localhost"}
    if endpoints.origin != "local services" or not local or not shutil.which("rabbitmqctl"):
        pytest.skip("users and virtual hosts are made with this machine's rabbitmqctl")
    vhost = f"fsi-access-{uuid.uuid4().hex[:10]}"
    users = {f"{topology.prefix}{r}" for r in roles}
    passwords = {u: uuid.uuid4().hex for u in users}
    made = definitions(topology, vhost, passwords)
    made["users"] = [u for u in made["users"] if u["name"] in users]
    made["permissions"] = [p for p in made["permissions"] if p["user"] in users]
    made["topic_permissions"] = [p for p in made["topic_permissions"] if p["user"] in users]
    # rabbitmqctl reads the file as the broker's own user.
    with tempfile.NamedTemporaryFile("w", suffix=".json", dir="/tmp", delete=False) as file:
        json.dump(made, file)
    os.chmod(file.name, 0o644)
    try:
        _ctl("import_definitions", file.name)
        for _ in range(100):  # the import is asynchronous
            if len(_ctl("list_permissions", "-p", vhost).splitlines()) >= len(users) + 1:
                break
            time.sleep(0.1)
        yield Access(topology, vhost, passwords)
    finally:
        os.unlink(file.name)
        _ctl("delete_vhost", vhost)
        for user in users:
            _ctl("delete_user", user)


ROLES = ["declare", "intake", "router", f"unit.{UNIT_A}", f"unit.{UNIT_B}"]


@pytest.fixture(scope="module")
def access(endpoints: harness.Endpoints) -> Iterator[Access]:
    topology = Topology(prefix=f"t{uuid.uuid4().hex[:8]}.fsi.", units=(UNIT_A, UNIT_B))
    with imported(endpoints, topology, ROLES) as made:
        asyncio.run(declare_all(made.url("declare"), topology))
        yield made


Action = Callable[[aio_pika.abc.AbstractChannel, Topology], Awaitable[Any]]


async def _publish(channel: aio_pika.abc.AbstractChannel, exchange: str, key: str) -> None:
    target = (await channel.get_exchange(exchange)) if exchange else channel.default_exchange
    await target.publish(aio_pika.Message(b"{}"), routing_key=key, timeout=5)


async def _rebind(channel: aio_pika.abc.AbstractChannel, t: Topology) -> None:
    queue = await channel.get_queue(t.unit_queue(UNIT_A).name)
    await queue.bind(t.reports_exchange.name, "stolen")
    await queue.unbind(t.reports_exchange.name, "stolen")


async def _declare(channel: aio_pika.abc.AbstractChannel, t: Topology) -> None:
    q = t.routing_queue
    await channel.declare_queue(q.name, durable=True, arguments=q.arguments)


ACTIONS: dict[str, Action] = {
    "publish to the reports exchange": lambda c, t: _publish(
        c, t.reports_exchange.name, REPORT_ACCEPTED_KEY
    ),
    "publish to the cases exchange": lambda c, t: _publish(c, t.cases_exchange.name, UNIT_A),
    "publish to the dead-letter exchange": lambda c, t: _publish(
        c, t.dead_letter_exchange.name, ""
    ),
    "publish to the default exchange": lambda c, t: _publish(c, "", t.routing_queue.name),
    "publish a case event as unit A": lambda c, t: _publish(c, t.case_events_exchange.name, UNIT_A),
    "publish a case event as unit B": lambda c, t: _publish(c, t.case_events_exchange.name, UNIT_B),
    "consume the routing queue": lambda c, t: _get(c, t.routing_queue.name),
    "consume the decisions queue": lambda c, t: _get(c, t.decisions_queue.name),
    "consume the case-events queue": lambda c, t: _get(c, t.case_events_queue.name),
    "consume unit A's queue": lambda c, t: _get(c, t.unit_queue(UNIT_A).name),
    "consume unit B's queue": lambda c, t: _get(c, t.unit_queue(UNIT_B).name),
    "declare a queue": _declare,
    "bind a queue": _rebind,
    "delete a queue": lambda c, t: c.queue_delete(t.triage_queue.name),
}


async def _get(channel: aio_pika.abc.AbstractChannel, name: str) -> None:
    message = await (await channel.get_queue(name)).get(fail=False)
    if message is not None:
        await message.reject(requeue=True)


# The design, cell by cell: who may do what ("declare" is fsi-declare's user: RabbitMQ asks
# write on a queue's dead-letter exchange and read on the queue to declare it with one).
ALLOWED: dict[str, set[str]] = {
    "publish to the reports exchange": {"intake"},
    "publish to the cases exchange": {"router"},
    "publish to the dead-letter exchange": {"router", "declare"},
    "publish to the default exchange": set(),
    # Topic permissions: a unit's user publishes under its own unit id only.
    "publish a case event as unit A": {f"unit.{UNIT_A}"},
    "publish a case event as unit B": {f"unit.{UNIT_B}"},
    "consume the routing queue": {"router", "declare"},
    "consume the decisions queue": {"router", "declare"},
    "consume the case-events queue": {"router", "declare"},
    "consume unit A's queue": {f"unit.{UNIT_A}"},
    "consume unit B's queue": {f"unit.{UNIT_B}"},
    "declare a queue": {"declare"},
    "bind a queue": {"declare"},
    "delete a queue": {"declare"},
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
async def test_each_user_may_do_only_what_it_must(access: Access, role: str, action: str) -> None:
    connection = await aio_pika.connect(access.url(role))
    try:
        channel = await connection.channel(publisher_confirms=True)
        try:
            await ACTIONS[action](channel, access.topology)
            outcome = "allowed"
        except aiormq.exceptions.ChannelAccessRefused:
            outcome = "refused"
    finally:
        await connection.close()
        if action == "delete a queue":
            await declare_all(access.url("declare"), access.topology)  # put it back
    expected = "allowed" if role in ALLOWED[action] else "refused"
    assert outcome == expected, f"{role}: {action}"


@pytest.fixture
async def pipeline(
    endpoints: harness.Endpoints,
    router_database_url: str,
    intake_settings: Callable[..., IntakeSettings],
) -> AsyncIterator[tuple[AsyncTestClient[Any], Access]]:
    """The intake and the router, each signed in as its own user in a virtual host of the
    test's own, whose topology fsi-declare's user declared."""
    base = intake_settings()
    routing = RoutingSettings(
        # Its own database login too, as outside development it must be.
        db=DatabaseSettings(
            url=router_database_url, pool_min=1, pool_max=4, migrate_on_start=False
        ),
        broker=BrokerSettings(prefix=base.broker.prefix),
        log=LogSettings(),
        rules=RulesSettings(),
        metrics=MetricsSettings(enabled=False),
    )
    topology = Topology(prefix=base.broker.prefix, units=load_rules(routing).catalogue.units)
    with imported(endpoints, topology, ["declare", "intake", "router", f"unit.{UNIT_A}"]) as made:
        await declare_all(made.url("declare"), topology)
        settings = msgspec.structs.replace(
            base,
            broker=BrokerSettings(url=made.url("intake"), prefix=topology.prefix),
            standardise=StandardiseSettings(accept_synthetic_ids=True),
            ops=OpsSettings(interval_seconds=1, cookie_secure=False),
        )
        routing = msgspec.structs.replace(
            routing, broker=BrokerSettings(url=made.url("router"), prefix=topology.prefix)
        )
        stop, watches = asyncio.Event(), list[RulesWatch]()
        async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
            router = asyncio.create_task(serve(routing, stop, on_start=watches.append))
            try:
                for _ in range(200):
                    if watches or router.done():
                        break
                    await asyncio.sleep(0.05)
                assert watches, f"the router did not start: {router.exception()!r}"
                yield client, made
            finally:
                stop.set()
                await asyncio.wait_for(router, 20)


async def test_the_intake_and_router_with_their_own_users_route_a_report_to_its_unit(
    pipeline: tuple[AsyncTestClient[Any], Access],
) -> None:
    client, made = pipeline
    answer = await client.post(
        "/v1/reports", json=example("domestic-violence"), headers=auth("alpha")
    )
    assert answer.status_code == 202, answer.text
    report_id = answer.json()["report_id"]
    connection = await aio_pika.connect(made.url(f"unit.{UNIT_A}"))
    try:
        queue = await (await connection.channel()).get_queue(made.topology.unit_queue(UNIT_A).name)
        for _ in range(300):
            message = await queue.get(fail=False)
            if message is not None:
                await message.ack()
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the case did not reach the unit's queue")
    finally:
        await connection.close()
    assert message.message_id == report_id
    # The operations overview reads the queues by passive declares, as the intake's user.
    for _ in range(100):
        routing = (await client.get("/v1/ops/overview", headers=auth("ops"))).json()["routing"]
        if routing and routing["consumers"] == 1:
            break
        await asyncio.sleep(0.1)
    assert routing == {
        "name": made.topology.routing_queue.name,
        "ready": 0,
        "unacknowledged": None,
        "consumers": 1,
        "missing": False,
    }


async def test_a_user_that_may_not_declare_is_told_what_is_missing(access: Access) -> None:
    wider = Topology(prefix=access.topology.prefix, units=(UNIT_A, "nowhere.none"))
    connection = await aio_pika.connect(access.url("router"))
    try:
        channel = await connection.channel()
        with pytest.raises(TopologyMissing) as missing:
            await declare(channel, wider)
        assert not channel.is_closed  # the check ran beside the caller's channel
    finally:
        await connection.close()
    said = broker_error(missing.value, access.url("router"))
    assert said.exit_code == EXIT_TOPOLOGY
    assert f"queue '{wider.unit_queue('nowhere.none').name}' is missing" in str(said)
    assert access.passwords[f"{wider.prefix}router"] not in str(said)
