"""RabbitMQ definitions of the topology: its exchanges, queues, bindings and policies.

The same names, types, durability and arguments `topology.declare` uses, so a broker loaded
from them finds no difference when `fsi-declare` runs. What is a queue argument today stays
one: the queue type and `x-max-priority` can only be arguments, and `declare` compares a
queue's arguments (never its policy), so moving the routing queue's dead-letter exchange to a
policy would make every `declare` of it a mismatch. Policies add only what no argument says:

- `<prefix>case-queues` (every unit queue): `dead-letter-exchange` = the topology's
  dead-letter exchange. Without one, a case a unit's consumer rejects without requeueing,
  or one past a quorum queue's delivery limit (20 by default from RabbitMQ 4.0), is dropped;
  with it, the case lands in the dead-letter queue, where the operations overview counts it.
  Their delivery limit stays the broker's: the units' consumers are not ours.
- `<prefix>triage-feed` (the triage queue): `max-length` = `TRIAGE_FEED_MAX_LENGTH`,
  `max-length-bytes` = `TRIAGE_FEED_MAX_BYTES`, `overflow: drop-head`. People work the work
  list in PostgreSQL (`work_items`), which the triage queue's confirm of a case fills; the
  queue itself is a feed of copies for other tools (the `fsi.triage` user), and nothing of
  ours consumes it, so unbounded it would only grow. At the bound RabbitMQ drops the oldest
  copy; the router's publish is still confirmed (`reject-publish` would refuse it, and the
  report would never reach the work list). No dead-letter exchange: a dropped or rejected
  copy would otherwise fill the dead-letter queue, which a person must empty, with copies
  of cases the work list holds anyway.
- `<prefix>routing-and-dead-letters` (quorum queues only: the routing, decisions,
  case-events and dead-letter queues): `delivery-limit` = `DELIVERY_LIMIT`. The router
  dead-letters what it cannot route or apply itself, with the reason, and acknowledges it;
  it puts a batch back (`basic.nack`, requeue) only when PostgreSQL or RabbitMQ fails,
  after a 2 s pause, and a crash returns its whole prefetch window. RabbitMQ 4.0-4.2
  count each of those returns (4.3 counts the crashes only), so the default of 20 would
  send valid reports (and case events) to the dead-letter queue, unrecorded, after some
  40 s of database outage. Ours, a week of retries every 2 s, outlasts any outage an
  operator repairs rather than abandons. It does
  little against a message that kills the router each time (the intake's bounds on a
  report make one unlikely; the loop shows as a router that keeps restarting). The
  dead-letter queue gets the same: a person reads it, peeking returns the message, and it
  has no dead-letter exchange of its own, so a message past its limit would be gone. Not
  -1 (no limit): RabbitMQ 3.x refuses it in a policy, and RabbitMQ 4.x has applied it
  from a policy unreliably.

Each pattern is anchored and matches exactly the queues it names (`brokeraccess.pattern`),
`apply-to` is `queues` (RabbitMQ 3.x has no `quorum_queues`), and the two name disjoint
queues. At most one policy applies to a queue, the highest priority first; `POLICY_PRIORITY`
is above the default 0 of a blanket policy an operator may keep (RabbitMQ suggests one that
dead-letters every quorum queue), so ours hold on our queues. Where a policy and an argument
both set a key, RabbitMQ keeps the argument's dead-letter exchange and the lower delivery
limit. On a classic queue a delivery limit has no meaning, and RabbitMQ applies no policy
holding only that key, so a classic topology has no such policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from services.common.topology import Queue, Topology
from services.routing.brokeraccess import pattern

# A week of the router's retries, one each 2 s: 7 × 24 × 3600 / 2.
DELIVERY_LIMIT = 302_400
# The triage feed's bound: days of triaged cases at the rates seen (tens to hundreds a day),
# and at most 256 MiB of copies (a report is at most 1 MiB, FSI_MAX_BODY_BYTES; most are a
# few KiB), whichever comes first.
TRIAGE_FEED_MAX_LENGTH = 10_000
TRIAGE_FEED_MAX_BYTES = 256 * 1024 * 1024
POLICY_PRIORITY = 10


@dataclass(frozen=True, slots=True)
class Policy:
    """A policy for the virtual host: the queues it applies to (exact names) and the keys it
    sets on them (`definition`, as RabbitMQ names them without the `x-`)."""

    name: str
    queues: tuple[str, ...]
    definition: dict[str, Any] = field(default_factory=dict)
    apply_to: Literal["queues"] = "queues"
    priority: int = POLICY_PRIORITY

    @property
    def pattern(self) -> str:
        """The anchored regular expression matching exactly `queues`."""
        return pattern(self.queues)


def policies(topology: Topology) -> tuple[Policy, ...]:
    """The policies of the topology (see the module's docstring for each one's reason)."""
    t, p = topology, topology.prefix
    made = [
        Policy(
            f"{p}triage-feed",
            (t.triage_queue.name,),
            {
                "max-length": TRIAGE_FEED_MAX_LENGTH,
                "max-length-bytes": TRIAGE_FEED_MAX_BYTES,
                "overflow": "drop-head",
            },
        )
    ]
    if t.units:
        made.append(
            Policy(
                f"{p}case-queues",
                tuple(t.unit_queue(u).name for u in t.units),
                {"dead-letter-exchange": t.dead_letter_exchange.name},
            )
        )
    if t.queue_type == "quorum":
        made.append(
            Policy(
                f"{p}routing-and-dead-letters",
                (
                    t.routing_queue.name,
                    t.decisions_queue.name,
                    t.case_events_queue.name,
                    t.dead_letter_queue.name,
                ),
                {"delivery-limit": DELIVERY_LIMIT},
            )
        )
    return tuple(made)


def topology_definitions(topology: Topology, vhost: str) -> dict[str, list[dict[str, Any]]]:
    """RabbitMQ definitions of the topology in `vhost`: `policies`, `exchanges`, `queues`
    (durable, with their arguments) and `bindings`, in the form `rabbitmqctl
    import_definitions` and `POST /api/definitions` read."""
    return {
        "policies": [
            {
                "vhost": vhost,
                "name": policy.name,
                "pattern": policy.pattern,
                "apply-to": policy.apply_to,
                "definition": dict(policy.definition),
                "priority": policy.priority,
            }
            for policy in policies(topology)
        ],
        "exchanges": [
            {
                "name": exchange.name,
                "vhost": vhost,
                "type": exchange.type.value,
                # What `declare` declares: durable, not auto-deleted, not internal.
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            }
            for exchange in topology.exchanges
        ],
        "queues": [_queue(queue, vhost) for queue in topology.queues],
        "bindings": [
            {
                "source": source,
                "vhost": vhost,
                "destination": queue.name,
                "destination_type": "queue",
                "routing_key": key,
                "arguments": {},
            }
            for queue in topology.queues
            for source, key in queue.bindings
        ],
    }


def _queue(queue: Queue, vhost: str) -> dict[str, Any]:
    return {
        "name": queue.name,
        "vhost": vhost,
        "durable": True,
        "auto_delete": False,
        "arguments": dict(queue.arguments),
    }
