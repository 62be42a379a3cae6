"""The definitions `fsi-broker-access` writes, imported with `rabbitmqctl import_definitions`
into a virtual host of the test's own: the broker then holds our exchanges, queues (with
their arguments), bindings and policies, a case a unit rejects reaches the dead-letter
queue, the triage feed keeps its newest copies up to its bound (each publish confirmed), and
`fsi-declare` finds nothing to differ and nothing to add.

The file is the command's for the default prefix and catalogue, the checked-in example's
but for its virtual host. Its users and permissions are left out of the import: users are
the whole broker's, and importing `fsi.intake` and the rest would take the passwords of any
this broker has (tests/integration/security/test_broker_access.py imports users of a
prefix of its own)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aio_pika
import pytest

from services.common.topology import QueueType, Topology
from services.routing.definitions import TRIAGE_FEED_MAX_LENGTH
from tests import harness

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES: dict[QueueType, Path] = {
    "classic": ROOT / "deploy" / "rabbitmq" / "definitions.json",
    "quorum": ROOT / "deploy" / "rabbitmq" / "definitions.quorum.json",
}
UNIT = "oslo.vold-naere-relasjoner"


def _ctl(*args: str, stdin: Path | None = None) -> str:
    with stdin.open("rb") if stdin is not None else open(os.devnull, "rb") as given:
        done = subprocess.run(  # noqa: S603
            ["rabbitmqctl", "--quiet", *args],  # noqa: S607
            stdin=given,
            capture_output=True,
            timeout=120,
            check=False,
        )
    if done.returncode != 0:
        raise AssertionError(f"rabbitmqctl {args[0]}: {done.stderr.decode()[-500:]}")
    return done.stdout.decode()


def _listed(*args: str) -> list[dict[str, Any]]:
    found = json.loads(_ctl(*args, "--formatter", "json") or "[]")
    assert isinstance(found, list)
    return found


def _run(module: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A command of ours as its console script runs it, with only these FSI_ settings."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FSI_")}
    environment.update(env)
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", module, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def vhost(endpoints: harness.Endpoints) -> Iterator[str]:
    """A virtual host of the test's own that `guest` may use, deleted afterwards."""
    local = urlsplit(endpoints.amqp_url).hostname in {"127.0.0.1", "localhost"}
    if endpoints.origin != "local services" or not local or not shutil.which("rabbitmqctl"):
        pytest.skip("the definitions are imported with this machine's rabbitmqctl")
    name = f"fsi-definitions-{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        _ctl("delete_vhost", name)


def _state(vhost: str, prefix: str) -> dict[str, Any]:
    """Our exchanges, queues (arguments, type, policy), bindings and policies as the broker
    lists them."""
    queues = _listed("list_queues", "-p", vhost, "name", "arguments", "type", "policy")
    exchanges = _listed(
        "list_exchanges", "-p", vhost, "name", "type", "durable", "auto_delete", "internal"
    )
    bindings = _listed(
        "list_bindings", "-p", vhost, "source_name", "destination_name", "routing_key"
    )
    policies = _listed("list_policies", "-p", vhost)
    return {
        "exchanges": {
            e["name"]: (e["type"], e["durable"], e["auto_delete"], e["internal"])
            for e in exchanges
            if e["name"].startswith(prefix)
        },
        "queues": {
            q["name"]: ({k: v for k, _, v in q["arguments"]}, q["type"], q["policy"])
            for q in queues
        },
        # The default exchange's binding of every queue to its name is the broker's own.
        "bindings": {
            (b["source_name"], b["destination_name"], b["routing_key"])
            for b in bindings
            if b["source_name"]
        },
        "policies": {
            p["name"]: (p["pattern"], p["apply-to"], json.loads(p["definition"]), p["priority"])
            for p in policies
        },
    }


def _imported(example: Path, queue_type: QueueType, vhost: str, tmp_path: Path) -> dict[str, Any]:
    """`fsi-broker-access` for the example's settings and this virtual host, checked to be
    the example but for its virtual host, imported without its users."""
    settings = {
        "FSI_BROKER_URL": f"amqp://127.0.0.1:5672/{quote(vhost, safe='')}",
        "FSI_BROKER_PREFIX": "fsi.",
        "FSI_BROKER_QUEUE_TYPE": queue_type,
        "FSI_RULES_UNITS_FILE": str(ROOT / "deploy" / "routing" / "units.yaml"),
    }
    written = tmp_path / "definitions.json"
    done = _run("services.routing.brokeraccess_cli", settings, "--output", str(written))
    assert done.returncode == 0, done.stderr
    made = json.loads(written.read_text("utf-8"))
    as_example = json.loads(written.read_text("utf-8").replace(f'"{vhost}"', '"/"'))
    assert as_example == json.loads(example.read_text("utf-8"))
    for kind in ("users", "permissions", "topic_permissions"):
        made.pop(kind)
    loaded = tmp_path / "import.json"
    loaded.write_text(json.dumps(made), "utf-8")
    _ctl("import_definitions", stdin=loaded)  # on stdin, as deploy/rabbitmq/README.md says
    return settings


def _expected(topology: Topology, queue_type: QueueType) -> dict[str, Any]:
    """What the broker must hold, from the topology's own values (not from the file)."""
    p = topology.prefix
    cases = {topology.unit_queue(u).name for u in topology.units}
    limited = {
        topology.routing_queue.name,
        topology.decisions_queue.name,
        topology.case_events_queue.name,
        topology.dead_letter_queue.name,
    }
    policy_of = {
        **dict.fromkeys(cases, f"{p}case-queues"),
        topology.triage_queue.name: f"{p}triage-feed",
        **dict.fromkeys(limited, f"{p}routing-and-dead-letters" if queue_type == "quorum" else ""),
    }
    return {
        "exchanges": {e.name: (e.type.value, True, False, False) for e in topology.exchanges},
        "queues": {q.name: (q.arguments, queue_type, policy_of[q.name]) for q in topology.queues},
        "bindings": {(s, q.name, k) for q in topology.queues for s, k in q.bindings},
    }


@pytest.mark.parametrize("queue_type", list(EXAMPLES))
async def test_the_definitions_import_whole_and_fsi_declare_finds_them_so(
    vhost: str, tmp_path: Path, queue_type: QueueType
) -> None:
    units = tuple(
        q["name"].removeprefix("fsi.unit.")
        for q in json.loads(EXAMPLES[queue_type].read_text("utf-8"))["queues"]
        if q["name"].startswith("fsi.unit.")
    )
    topology = Topology(prefix="fsi.", queue_type=queue_type, units=units)
    assert UNIT in units
    settings = _imported(EXAMPLES[queue_type], queue_type, vhost, tmp_path)
    expected = _expected(topology, queue_type)
    for _ in range(100):  # the queues start after the import returns
        state = _state(vhost, topology.prefix)
        if len(state["queues"]) >= len(expected["queues"]):
            break
        await asyncio.sleep(0.1)
    for kind in ("exchanges", "queues", "bindings"):
        assert state[kind] == expected[kind], kind
    dead_letters = topology.dead_letter_exchange.name
    # Which queues each policy reaches is the queues' `policy` above; here what it says.
    cases = state["policies"][f"{topology.prefix}case-queues"]
    assert cases[1:] == ("queues", {"dead-letter-exchange": dead_letters}, 10)
    feed = state["policies"][f"{topology.prefix}triage-feed"]
    bound = {"max-length": 10_000, "max-length-bytes": 268_435_456, "overflow": "drop-head"}
    assert feed[1:] == ("queues", bound, 10)
    if queue_type == "quorum":
        limit = state["policies"][f"{topology.prefix}routing-and-dead-letters"]
        assert limit[1:] == ("queues", {"delivery-limit": 302_400}, 10)
    assert len(state["policies"]) == (3 if queue_type == "quorum" else 2)

    _ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    url = f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}"
    await _a_rejected_case_is_dead_lettered(url, topology)
    await _the_triage_feed_keeps_its_newest_copies(url, topology)

    declared = _run("services.routing.declare", {**settings, "FSI_BROKER_URL": url})
    assert declared.returncode == 0, declared.stderr
    after = _state(vhost, topology.prefix)
    for kind in ("exchanges", "queues", "bindings", "policies"):
        assert after[kind] == state[kind], f"fsi-declare changed the {kind}"


async def _a_rejected_case_is_dead_lettered(url: str, topology: Topology) -> None:
    """The case-queues policy at work: a case its unit rejects goes to the dead-letter queue,
    with RabbitMQ's x-death naming the unit's queue."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        cases = await channel.get_exchange(topology.cases_exchange.name)
        await cases.publish(aio_pika.Message(b"{}", message_id="case-1"), routing_key=UNIT)
        unit = await channel.get_queue(topology.unit_queue(UNIT).name)
        dead = await channel.get_queue(topology.dead_letter_queue.name)
        delivered = await _get(unit)
        await delivered.reject(requeue=False)
        kept = await _get(dead)
        await kept.ack()
    finally:
        await connection.close()
    assert kept.message_id == "case-1"
    death = kept.headers["x-death"]
    assert isinstance(death, list)
    first = death[0]
    assert isinstance(first, dict)
    assert (first["queue"], first["reason"]) == (topology.unit_queue(UNIT).name, "rejected")


async def _the_triage_feed_keeps_its_newest_copies(url: str, topology: Topology) -> None:
    """The triage-feed policy at work: one copy past the bound, every publish confirmed (the
    router's confirm is what puts a report on the work list), the oldest copy dropped, and
    nothing dead-lettered."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        cases = await channel.get_exchange(topology.cases_exchange.name)
        for start in range(0, TRIAGE_FEED_MAX_LENGTH + 1, 1000):
            batch = range(start, min(start + 1000, TRIAGE_FEED_MAX_LENGTH + 1))
            # Each publish returns the broker's confirm; a refused one (nack) raises.
            await asyncio.gather(
                *(
                    cases.publish(aio_pika.Message(b"{}", message_id=f"copy-{n}"), "triage")
                    for n in batch
                )
            )
        feed = await channel.declare_queue(topology.triage_queue.name, passive=True)
        held = feed.declaration_result.message_count
        dead = await channel.declare_queue(topology.dead_letter_queue.name, passive=True)
        dead_held = dead.declaration_result.message_count
        first = await _get(feed)
        await first.ack()
        await feed.purge()
    finally:
        await connection.close()
    assert held == TRIAGE_FEED_MAX_LENGTH
    assert first.message_id == "copy-1"  # copy-0, the oldest, was dropped
    assert dead_held == 0


async def _get(queue: aio_pika.abc.AbstractQueue) -> aio_pika.abc.AbstractIncomingMessage:
    for _ in range(100):
        message = await queue.get(fail=False)
        if message is not None:
            return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing reached {queue.name}")
