"""RabbitMQ's PRECONDITION_FAILED replies read into the queue, the argument and both values.

The replies are RabbitMQ's own, as a 3.10 broker sent them for the declares named beside
each (tests/integration/common/test_topology.py makes the broker send them again).
"""

from __future__ import annotations

import pytest

from services.common.topology_mismatch import Difference, TopologyMismatch, parse_precondition

# (reply, what was declared, the difference it names)
REPLIES = [
    # The routing queue an operator pre-created with x-max-length and no dead-letter exchange
    # (real-inputs-1/precreate-routing-queue.py), declared by us with our dead-letter exchange.
    (
        "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue "
        "'case3.routing.reports' in vhost '/': received the value 'case3.dead-letter' of type "
        "'longstr' but current is none",
        ("queue", "case3.routing.reports"),
        Difference(
            "queue", "case3.routing.reports", "x-dead-letter-exchange", "case3.dead-letter", None
        ),
    ),
    # A unit queue made by hand with priority 5; ours have 10.
    (
        "PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue 'fsi.unit.oslo.vold'"
        " in vhost '/': received '10' but current is '5'",
        ("queue", "fsi.unit.oslo.vold"),
        Difference("queue", "fsi.unit.oslo.vold", "x-max-priority", "10", "5"),
    ),
    # A classic queue with priority, declared by us as a quorum queue (no x-max-priority).
    (
        "PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue 'fsi.triage' in "
        "vhost '/': received none but current is the value '5' of type 'byte'",
        ("queue", "fsi.triage"),
        Difference("queue", "fsi.triage", "x-max-priority", None, "5"),
    ),
    (
        "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'fsi.triage' in vhost "
        "'/': received 'quorum' but current is 'classic'",
        ("queue", "fsi.triage"),
        Difference("queue", "fsi.triage", "x-queue-type", "quorum", "classic"),
    ),
    # A queue someone declared transient.
    (
        "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'fsi.dead-letter' in vhost "
        "'/': received 'true' but current is 'false'",
        ("queue", "fsi.dead-letter"),
        Difference("queue", "fsi.dead-letter", "durable", "true", "false"),
    ),
    # The cases exchange made as a fanout; ours is direct.
    (
        "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'fsi.cases' in vhost "
        "'prod': received 'direct' but current is 'fanout'",
        ("exchange", "fsi.cases"),
        Difference("exchange", "fsi.cases", "type", "direct", "fanout"),
    ),
]


@pytest.mark.parametrize(("reply", "declared", "expected"), REPLIES)
def test_a_reply_names_the_queue_the_argument_and_both_values(
    reply: str, declared: tuple[str, str], expected: Difference
) -> None:
    found = parse_precondition(reply, *declared)
    assert (found.kind, found.name, found.argument, found.ours, found.theirs) == (
        expected.kind,
        expected.name,
        expected.argument,
        expected.ours,
        expected.theirs,
    )
    assert found.reply == reply


def test_the_example_says_what_differs_in_one_line() -> None:
    reply, declared, _ = REPLIES[0]
    line = str(TopologyMismatch(parse_precondition(reply, *declared)))
    assert line == (
        "queue 'case3.routing.reports': the broker has x-dead-letter-exchange = none, "
        "we declare x-dead-letter-exchange = 'case3.dead-letter'"
    )
    assert "\n" not in line


def test_a_reply_of_another_form_is_kept_whole_with_what_we_declared() -> None:
    reply = "PRECONDITION_FAILED - queue 'fsi.triage' in vhost '/' in use"
    found = parse_precondition(reply, "queue", "fsi.triage")
    assert (found.kind, found.name, found.argument) == ("queue", "fsi.triage", None)
    assert found.describe() == f"queue 'fsi.triage' differs on the broker: {reply}"
