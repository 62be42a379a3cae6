"""The topology as RabbitMQ definitions: exactly what `declare` declares, and policies that
match exactly our queues, never repeat an argument, and keep what the router relies on."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.common.topology import Topology, declare
from services.routing.definitions import (
    DELIVERY_LIMIT,
    TRIAGE_FEED_MAX_BYTES,
    TRIAGE_FEED_MAX_LENGTH,
    policies,
    topology_definitions,
)

UNITS = ("oslo.felles-etterforskning", "oslo.vold-naere-relasjoner", "vest.barn-og-unge")
TOPOLOGIES = [
    Topology(prefix="fsi.", queue_type=kind, units=UNITS) for kind in ("classic", "quorum")
]
ROUTER_RETRY_SECONDS = 2  # the router's pause before it puts a failed batch back


def allows(regex: str, name: str) -> bool:
    # RabbitMQ searches (re:run) the name with the policy's pattern.
    return re.search(regex, name) is not None


@dataclass
class Recorder:
    """A channel that keeps what `declare` asks of the broker, in definitions' form."""

    exchanges: list[dict[str, Any]] = field(default_factory=list)
    queues: list[dict[str, Any]] = field(default_factory=list)
    bindings: list[dict[str, Any]] = field(default_factory=list)

    async def get_underlay_channel(self) -> Recorder:
        return self

    @property
    def connection(self) -> Recorder:
        return self

    async def channel(self) -> Recorder:
        return self

    is_closed = False

    async def close(self) -> None:
        pass

    async def exchange_declare(self, *args: Any, **kwargs: Any) -> None:
        pass  # the permission probe

    async def declare_exchange(self, name: str, kind: Any, **kwargs: Any) -> str:
        self.exchanges.append({"name": name, "type": kind.value, **_shape(kwargs)})
        return name

    async def declare_queue(self, name: str, **kwargs: Any) -> Recorder.Bound:
        self.queues.append({"name": name, **_shape(kwargs)})
        return Recorder.Bound(self, name)

    @dataclass
    class Bound:
        recorder: Recorder
        name: str

        async def bind(self, exchange: str, routing_key: str, **kwargs: Any) -> None:
            assert not kwargs, f"binding with {kwargs}: the definitions hold none"
            self.recorder.bindings.append(
                {"source": exchange, "destination": self.name, "routing_key": routing_key}
            )


def _shape(kwargs: dict[str, Any]) -> dict[str, Any]:
    known = {"durable", "auto_delete", "internal", "arguments", "exclusive", "passive"}
    assert set(kwargs) <= known, f"declare passes {set(kwargs) - known}: say it in the file"
    assert not kwargs.get("exclusive")
    assert not kwargs.get("passive")
    return {
        "durable": kwargs.get("durable", False),
        "auto_delete": kwargs.get("auto_delete", False),
        "arguments": dict(kwargs.get("arguments") or {}),
        **({"internal": kwargs.get("internal", False)} if "internal" in kwargs else {}),
    }


def _without(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in keys} for row in rows]


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda t: t.queue_type)
async def test_the_file_holds_what_declare_declares(topology: Topology) -> None:
    made = topology_definitions(topology, "v")
    recorded = Recorder()
    await declare(recorded, topology)  # type: ignore[arg-type]
    exchanges = [{"internal": False, **e} for e in recorded.exchanges]
    assert _without(made["exchanges"], "vhost") == exchanges
    assert _without(made["queues"], "vhost") == recorded.queues
    assert _without(made["bindings"], "vhost", "destination_type", "arguments") == (
        recorded.bindings
    )
    assert {b["destination_type"] for b in made["bindings"]} == {"queue"}
    every = [*made["policies"], *made["exchanges"], *made["queues"], *made["bindings"]]
    assert {row["vhost"] for row in every} == {"v"}


def names(topology: Topology) -> set[str]:
    return {e.name for e in topology.exchanges} | {q.name for q in topology.queues}


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda t: t.queue_type)
def test_each_policy_matches_exactly_its_queues_and_no_two_overlap(topology: Topology) -> None:
    other = Topology(prefix="fsi.test.", units=UNITS)
    strangers = names(other) | {"amq.default", "amq.gen-1", "fsi.unit.oslo", "fsi.triage2"}
    seen: set[str] = set()
    for policy in policies(topology):
        matched = {n for n in names(topology) if allows(policy.pattern, n)}
        assert matched == set(policy.queues), policy.name
        assert not any(allows(policy.pattern, n) for n in strangers), policy.name
        assert not seen & matched, "two policies for one queue: only one would apply"
        seen |= matched
        assert policy.apply_to == "queues"
        assert policy.priority > 0  # above a blanket policy at the default priority
        assert policy.name.startswith(topology.prefix)


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda t: t.queue_type)
def test_no_policy_sets_what_a_queue_argument_sets(topology: Topology) -> None:
    arguments = {q.name: q.arguments for q in topology.queues}
    for policy in policies(topology):
        for queue in policy.queues:
            for key in policy.definition:
                assert f"x-{key}" not in arguments[queue], (policy.name, queue, key)


def _effective(topology: Topology) -> dict[str, dict[str, Any]]:
    return {queue: policy.definition for policy in policies(topology) for queue in policy.queues}


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda t: t.queue_type)
def test_cases_are_dead_lettered_rather_than_dropped(topology: Topology) -> None:
    effective = _effective(topology)
    dead_letters = topology.dead_letter_exchange.name
    for queue in (topology.unit_queue(u) for u in UNITS):
        assert effective[queue.name].get("dead-letter-exchange") == dead_letters
    # The router's input queues keep theirs as an argument; the dead-letter queue is the
    # last stop.
    inputs = (topology.routing_queue, topology.decisions_queue, topology.case_events_queue)
    for queue in inputs:
        assert queue.arguments["x-dead-letter-exchange"] == dead_letters
    for queue in (*inputs, topology.dead_letter_queue):
        assert "dead-letter-exchange" not in effective.get(queue.name, {})


def test_a_week_of_router_retries_stays_under_the_quorum_delivery_limit() -> None:
    classic, quorum = TOPOLOGIES
    assert not any("delivery-limit" in p.definition for p in policies(classic))
    limits = {q: p.definition.get("delivery-limit") for p in policies(quorum) for q in p.queues}
    inputs = (quorum.routing_queue, quorum.decisions_queue, quorum.case_events_queue)
    for queue in (*inputs, quorum.dead_letter_queue):
        assert limits[queue.name] == DELIVERY_LIMIT, queue.name
    week = dt.timedelta(days=7).total_seconds()
    assert week <= DELIVERY_LIMIT * ROUTER_RETRY_SECONDS
    assert limits[quorum.unit_queue(UNITS[0]).name] is None  # the broker's own


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda t: t.queue_type)
def test_the_triage_feed_is_bounded_and_drops_its_oldest_copies(topology: Topology) -> None:
    """Nothing of ours consumes the triage queue (people work the work list), so every
    deployment bounds it; the router's publish must still be confirmed at the bound (the
    confirm puts the report on the work list), and a dropped copy must not fill the
    dead-letter queue."""
    feed = _effective(topology)[topology.triage_queue.name]
    assert feed == {
        "max-length": TRIAGE_FEED_MAX_LENGTH,
        "max-length-bytes": TRIAGE_FEED_MAX_BYTES,
        "overflow": "drop-head",
    }
    assert 0 < TRIAGE_FEED_MAX_LENGTH <= 100_000
    # At least a hundred reports of the intake's largest body (1 MiB) fit.
    assert 100 * 1_048_576 <= TRIAGE_FEED_MAX_BYTES <= 1024**3


def test_no_units_makes_no_policy_for_case_queues() -> None:
    """An empty pattern would match every queue of the virtual host."""
    bare = Topology(prefix="fsi.", units=())
    assert [p.name for p in policies(bare)] == ["fsi.triage-feed"]
    assert all(p.pattern for p in policies(bare))
