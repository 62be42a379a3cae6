"""What a broker's refused declaration says: the queue or exchange, the argument that differs
and both values, as `TopologyMismatch`, an AMQP error."""

from __future__ import annotations

import re
from dataclasses import dataclass

import aio_pika

# RabbitMQ's reply to a declare that differs from what exists (rabbit_misc and
# rabbit_amqqueue, 3.x and 4.x alike): "PRECONDITION_FAILED - inequivalent arg 'x-max-length'
# for queue 'q' in vhost '/': received '5' but current is '100000'". A value is `none`,
# `'v'` or `the value 'v' of type 't'`.
_INEQUIVALENT = re.compile(
    r"inequivalent arg '(?P<argument>[^']*)' for (?P<kind>queue|exchange) '(?P<name>[^']*)'"
    r" in vhost '[^']*': received (?P<ours>.+) but current is (?P<theirs>.+?)\s*$"
)
_VALUE = re.compile(r"^(?:the value )?'(?P<value>.*?)'(?: of type '[^']*')?$")


def _value(text: str) -> str | None:
    """A value as RabbitMQ's reply shows it, without quotes and type; None for `none`."""
    if text.strip() == "none":
        return None
    match = _VALUE.match(text.strip())
    return match.group("value") if match else text.strip()


@dataclass(frozen=True, slots=True)
class Difference:
    """One queue or exchange that exists on the broker with another argument than ours.

    `argument` is None when the broker's reply could not be read; `reply` is its text."""

    kind: str  # "queue" or "exchange"
    name: str
    argument: str | None
    ours: str | None
    theirs: str | None
    reply: str = ""

    def describe(self) -> str:
        """One line: the queue, the argument, what we declare and what the broker has."""
        if self.argument is None:
            return f"{self.kind} '{self.name}' differs on the broker: {self.reply}"
        ours = "none" if self.ours is None else repr(self.ours)
        theirs = "none" if self.theirs is None else repr(self.theirs)
        return (
            f"{self.kind} '{self.name}': the broker has {self.argument} = {theirs}, "
            f"we declare {self.argument} = {ours}"
        )


def parse_precondition(reply: str, kind: str, name: str) -> Difference:
    """The difference a PRECONDITION_FAILED reply names; the reply kept whole when its form
    is not the one RabbitMQ 3.x and 4.x use (`kind` and `name` are what we declared)."""
    match = _INEQUIVALENT.search(reply)
    if match is None:
        return Difference(kind, name, None, None, None, reply.strip()[:300])
    return Difference(
        match.group("kind"),
        match.group("name"),
        match.group("argument"),
        _value(match.group("ours")),
        _value(match.group("theirs")),
        reply.strip()[:300],
    )


class TopologyMismatch(aio_pika.exceptions.AMQPError):
    """The broker holds a queue or exchange of ours with other arguments (PRECONDITION_FAILED
    on declare): the broker is reachable, its topology differs. An AMQP error, so every
    handler of broker failures treats it as one."""

    reason = "%s"

    def __init__(self, difference: Difference) -> None:
        super().__init__(difference.describe())
        self.difference = difference

    def __str__(self) -> str:
        return self.difference.describe()


class TopologyMissing(TopologyMismatch):
    """A queue or exchange of ours is missing and this user may not declare it: the user
    has no configure permission (deploy/rabbitmq), so the topology is fsi-declare's."""

    def __init__(self, kind: str, name: str) -> None:
        reply = "it is missing, and this user may not declare it (run fsi-declare)"
        super().__init__(Difference(kind, name, None, None, None, reply))
