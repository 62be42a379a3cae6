"""RabbitMQ users and permissions of least privilege, derived from the topology's names.

Each part of the system gets a user named under the topology's prefix, and for its virtual
host three regular expressions (configure, write, read) that match exactly the exchanges and
queues it uses, written out as RabbitMQ definitions (`rabbitmqctl import_definitions`, or
`POST /api/definitions` of the management API):

- `<prefix>declare`: the topology's owner (`fsi-declare`); configures every exchange and
  queue, and binds them (write on queues and the dead-letter exchange, read on exchanges and
  the routing, decisions and case-events queues, as RabbitMQ asks of a binding and of a
  queue with a dead-letter exchange).
- `<prefix>intake`: publishes to the reports exchange (accepted reports and people's
  decisions), nothing else. Its start checks and the
  operations monitor's queue counts are passive declares, which need no permission.
- `<prefix>router`: consumes the routing, decisions and case-events queues, publishes to
  the cases and dead-letter exchanges.
- `<prefix>triage`, `<prefix>dead-letter`: each consumes its own queue (named like its
  user), nothing else.
- `<prefix>unit.<unit>`: consumes its own queue (named like its user) and publishes case
  events to the case-events exchange, under its own unit id only (a topic permission).

RabbitMQ matches a permission's regular expression anywhere in a name unless anchored, so
every one is `^(...)$` with the names' metacharacters escaped (a dot matches any character).
The empty expression grants nothing. The default exchange (`amq.default`) and the `amq.*`
exchanges match none of them.

Topic permissions (RabbitMQ applies them to topic exchanges only; the others are direct and
fanout, where a routing key no queue is bound with reaches no queue) hold each unit's user
to its own routing key on the case-events exchange: write `^<unit id>$`, so a unit cannot
publish an event as another unit, and read `^$` (RabbitMQ's reading of the empty pattern
too), so it binds nothing there. The router checks the key against the event's unit again.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.common.topology import Topology

HASHING = "rabbit_password_hashing_sha256"  # RabbitMQ's default since 3.6
_METACHARACTERS = re.compile(r"([\\^$.|?*+()\[\]{}])")


@dataclass(frozen=True, slots=True)
class Grant:
    """One user's permissions in the virtual host: the names it may configure, write
    (publish to, or bind a queue to) and read (consume from, or bind from)."""

    user: str
    configure: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    read: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TopicGrant:
    """One user's topic permission on one topic exchange: the routing keys it may publish
    with (`write`) and bind with (`read`), as exact keys."""

    user: str
    exchange: str
    write: tuple[str, ...] = ()
    read: tuple[str, ...] = ()


def pattern(names: Iterable[str]) -> str:
    """A regular expression matching exactly these names (PCRE, as RabbitMQ reads it);
    the empty expression, which RabbitMQ reads as matching nothing, for none."""
    # `$` also matches before a final line break; RabbitMQ strips CR and LF from the names
    # it is given (rabbit_channel), so no name of an exchange or queue ends in one.
    escaped = [_METACHARACTERS.sub(r"\\\1", n) for n in dict.fromkeys(names)]
    if not escaped:
        return ""
    return f"^({'|'.join(escaped)})$" if len(escaped) > 1 else f"^{escaped[0]}$"


def grants(topology: Topology) -> tuple[Grant, ...]:
    """Every user of the topology with the names it may use."""
    t, p = topology, topology.prefix
    exchanges = tuple(e.name for e in t.exchanges)
    queues = tuple(q.name for q in t.queues)
    events = t.case_events_exchange.name
    readers = [
        Grant(f"{p}triage", read=(t.triage_queue.name,)),
        Grant(f"{p}dead-letter", read=(t.dead_letter_queue.name,)),
        *(
            Grant(t.unit_queue(u).name, write=(events,), read=(t.unit_queue(u).name,))
            for u in t.units
        ),
    ]
    # A queue declared with a dead-letter exchange asks read on the queue of its declarer.
    dead_lettered = (t.routing_queue.name, t.decisions_queue.name, t.case_events_queue.name)
    return (
        Grant(
            f"{p}declare",  # fsi-declare
            configure=(*exchanges, *queues),
            write=(*queues, t.dead_letter_exchange.name),
            read=(*exchanges, *dead_lettered),
        ),
        Grant(f"{p}intake", write=(t.reports_exchange.name,)),
        Grant(
            f"{p}router",
            write=(t.cases_exchange.name, t.dead_letter_exchange.name),
            read=dead_lettered,
        ),
        *readers,
    )


def topic_grants(topology: Topology) -> tuple[TopicGrant, ...]:
    """Each unit's user on the case-events exchange: publish under its own unit id only,
    bind nothing (the empty key only, which no binding of ours uses)."""
    t = topology
    exchange = t.case_events_exchange.name
    return tuple(TopicGrant(t.unit_queue(u).name, exchange, write=(u,)) for u in t.units)


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's stored form of a password (rabbit_password_hashing_sha256): base64 of a
    4-byte random salt followed by SHA-256(salt + the password's UTF-8)."""
    salt = secrets.token_bytes(4) if salt is None else salt
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")


def definitions(
    topology: Topology, vhost: str, passwords: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """RabbitMQ definitions: the virtual host, the users and their permissions in it.

    A user with a password in `passwords` gets its hash; the others get none (they cannot
    sign in until an operator sets one with `rabbitmqctl change_password`)."""
    passwords = passwords or {}
    every = grants(topology)
    unknown = sorted(set(passwords) - {g.user for g in every})
    if unknown:
        raise ValueError(f"passwords for users the topology does not have: {', '.join(unknown)}")
    return {
        "vhosts": [{"name": vhost}],
        "users": [
            {
                "name": g.user,
                "password_hash": password_hash(passwords[g.user]) if g.user in passwords else "",
                "hashing_algorithm": HASHING,
                "tags": [],
            }
            for g in every
        ],
        "permissions": [
            {
                "user": g.user,
                "vhost": vhost,
                "configure": pattern(g.configure),
                "write": pattern(g.write),
                "read": pattern(g.read),
            }
            for g in every
        ],
        "topic_permissions": [
            {
                "user": g.user,
                "vhost": vhost,
                "exchange": g.exchange,
                "write": pattern(g.write),
                # RabbitMQ reads an empty topic pattern as `^$` (the empty key only).
                "read": pattern(g.read) or "^$",
            }
            for g in topic_grants(topology)
        ],
    }
