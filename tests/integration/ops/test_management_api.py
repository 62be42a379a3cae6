"""The operations monitor reading RabbitMQ's management API (`FSI_OPS_MANAGEMENT_URL`)
against the real plugin, beside the passive declares it uses without one."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from services.intake.ops import Monitor
from services.intake.ops_views import Overview, QueueState
from services.intake.settings import OpsSettings
from tests import harness
from tests.integration.ops.test_ops import post_examples
from tests.integration.stack import Stack

MANAGEMENT_PORT = 15672
HELD_UNIT = "trondelag.vold-naere-relasjoner"  # where the domestic-violence example goes


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _plugins(action: str) -> None:
    subprocess.run(  # noqa: S603
        ["rabbitmq-plugins", action, "rabbitmq_management"],  # noqa: S607
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def management_url(endpoints: harness.Endpoints) -> Iterator[str]:
    """The local broker's management API, its plugin turned on for this module when it was
    off (and off again afterwards)."""
    local = urlsplit(endpoints.amqp_url).hostname in {"127.0.0.1", "localhost"}
    if endpoints.origin != "local services" or not local or not shutil.which("rabbitmq-plugins"):
        pytest.skip("the management plugin can be turned on only on this machine's RabbitMQ")
    enabled_here = not _port_open(MANAGEMENT_PORT)
    if enabled_here:
        _plugins("enable")
    try:
        for _ in range(120):
            if _port_open(MANAGEMENT_PORT):
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the management API did not start listening")
        yield f"http://guest:guest@127.0.0.1:{MANAGEMENT_PORT}"
    finally:
        if enabled_here:
            _plugins("disable")


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield created
    await created.close()


def _settled(shown: dict[str, QueueState | None], declares: dict[str, QueueState | None]) -> bool:
    held, routing = shown.get(HELD_UNIT), shown.get("routing")
    return (
        held is not None
        and held.unacknowledged == 1
        and routing is not None
        and routing.consumers == 1
        and all(
            state is not None
            and declares.get(name) is not None
            and (state.ready, state.consumers) == (declares[name].ready, declares[name].consumers)  # type: ignore[union-attr]
            for name, state in shown.items()
            if name != HELD_UNIT
        )
    )


def queues_of(overview: Overview) -> dict[str, QueueState | None]:
    units = {u.unit: u.queue for d in overview.districts for u in d.units}
    return {**units, "triage": overview.triage, "routing": overview.routing}


async def test_the_management_api_adds_unacknowledged_to_what_declares_show(
    stack: Stack, management_url: str, amqp_url: str, pool: asyncpg.Pool
) -> None:
    await post_examples(stack)
    held_queue = await stack.queue(stack.topology.unit_queue(HELD_UNIT).name)
    held = await held_queue.get(no_ack=False)  # delivered, not acknowledged
    assert held is not None

    def monitor(**settings: Any) -> Monitor:
        return Monitor(pool, amqp_url, stack.topology, OpsSettings(**settings))

    passive = monitor()
    declares = queues_of(await passive.refresh())
    await passive.close()
    management = monitor(management_url=management_url)
    shown: dict[str, QueueState | None] = {}
    # The plugin collects each queue's statistics every few seconds, not all at once.
    for _ in range(60):
        overview = await management.refresh()
        assert overview.broker.up, overview.broker
        shown = queues_of(overview)
        if _settled(shown, declares):
            break
        await asyncio.sleep(0.5)
    await held.nack(requeue=True)

    held_state = shown[HELD_UNIT]
    assert held_state is not None
    assert (held_state.ready, held_state.unacknowledged) == (0, 1)
    declared_held = declares[HELD_UNIT]
    assert declared_held is not None
    assert declared_held.unacknowledged is None  # a passive declare cannot tell
    # Everything else agrees: ready cases per unit queue, the router as the routing
    # queue's consumer, queues missing from neither.
    assert shown.keys() == declares.keys()
    for name, state in shown.items():
        declared = declares[name]
        assert state is not None, name
        assert declared is not None, name
        assert not state.missing, name
        if name != HELD_UNIT:
            assert (state.ready, state.consumers) == (declared.ready, declared.consumers), name
    ready_units = {n for n, s in shown.items() if s and s.ready and n not in {"triage", "routing"}}
    assert len(ready_units) == 2  # the two other examples' cases wait in their units
    routing = shown["routing"]
    assert routing is not None
    assert routing.consumers == 1
