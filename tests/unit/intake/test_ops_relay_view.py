"""What the overview says of the outbox relay and of missing queues (pure: no broker, no
database; the broker link is told its failures as the relay tells it)."""

from __future__ import annotations

import datetime as dt

import aiormq

from services.common.topology import Topology
from services.common.topology_mismatch import TopologyMismatch, parse_precondition
from services.intake import ops_api
from services.intake.brokerlink import BrokerLink
from services.intake.ops import Monitor
from services.intake.ops_views import Overview, QueueState, RelayState, RelayView, Service
from services.intake.settings import OpsSettings

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
URL = "amqp://fsi:s3cret-pass@mq.example:5999/prod"
TOPOLOGY = Topology(prefix="nu1.")
# RabbitMQ's reply to the new user's routing queue (pre-declared with x-max-length).
MISMATCH = TopologyMismatch(
    parse_precondition(
        "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'nu1.routing.reports' "
        "in vhost 'prod': received none but current is '100000'",
        "queue",
        "nu1.routing.reports",
    )
)
REFUSED = aiormq.exceptions.AMQPConnectionError(111, "Connect call failed ('10.0.0.9', 5999)")


def monitor(link: BrokerLink | None) -> Monitor:
    return Monitor(None, URL, TOPOLOGY, OpsSettings(), link=link)


def overview(relay: RelayView, *, triage: QueueState | None = None) -> Overview:
    return Overview(
        generated_at=NOW,
        broker=Service(True, NOW),
        database=Service(True, NOW),
        ruleset=None,
        outbox=None,
        triage=triage or QueueState("nu1.triage", ready=0),
        dead_letter=QueueState("nu1.dead-letter", missing=True),
        routing=None,
        districts=[],
        relay=relay,
    )


def test_a_mismatch_is_what_the_relay_knows_with_the_queue_and_argument() -> None:
    link = BrokerLink(URL, TOPOLOGY)
    assert link.failed(MISMATCH) is True
    relay = monitor(link)._relay()
    assert relay.state == "mismatch"
    assert relay.blocked
    assert relay.problem == link.problem
    assert relay.problem is not None
    assert relay.problem.startswith("RabbitMQ at mq.example:5999 (FSI_BROKER_URL)")
    assert "queue 'nu1.routing.reports'" in relay.problem
    assert "x-max-length" in relay.problem
    assert "s3cret-pass" not in relay.problem
    assert relay.since is not None


def test_the_problem_keeps_its_start_until_it_changes() -> None:
    link = BrokerLink(URL, TOPOLOGY)
    link.failed(REFUSED)
    first = link.problem_since
    assert link.failed(REFUSED) is False  # the same problem again: no new start
    assert link.problem_since == first
    relay = monitor(link)._relay()
    assert (relay.state, relay.since) == ("down", first)
    assert relay.problem == (
        "cannot reach RabbitMQ at mq.example:5999 (FSI_BROKER_URL): connection refused"
    )
    assert link.failed(MISMATCH) is True
    assert monitor(link)._relay().state == "mismatch"


def test_no_relay_and_no_connection_yet_are_not_failures() -> None:
    assert monitor(None)._relay() == RelayView("disabled")
    fresh = monitor(BrokerLink(URL, TOPOLOGY))._relay()
    assert fresh == RelayView("connecting")
    assert not fresh.blocked


def test_the_summary_says_reports_cannot_be_published_and_why_in_short() -> None:
    mismatch = ops_api.summary(overview(RelayView("mismatch", "queue …", NOW)))
    assert mismatch.startswith(
        "RabbitMQ up, PostgreSQL up. "
        "Reports cannot be published: RabbitMQ's topology differs from ours. "
    )
    down = ops_api.summary(overview(RelayView("down", "cannot reach …", NOW)))
    assert "Reports cannot be published: the outbox relay cannot use RabbitMQ." in down
    fine_states: tuple[RelayState, ...] = ("up", "connecting", "disabled")
    for fine in fine_states:
        assert "cannot be published" not in ops_api.summary(overview(RelayView(fine)))


def test_the_summary_names_a_missing_queue_as_missing_not_unknown() -> None:
    text = ops_api.summary(overview(RelayView("up"), triage=QueueState("nu1.triage", missing=True)))
    assert "dead letters: queue missing;" in text
    # Without the triage queue the rules' triaged cases never reach the work list.
    assert (
        " The triage queue is missing: cases the rules send to triage wait for it before they "
        "reach the work list." in text
    )
    unread = ops_api.summary(overview(RelayView("up"), triage=QueueState("nu1.triage")))
    assert "triage queue" not in unread
    # What waits in triage is the work list, unknown here (PostgreSQL not read).
    assert "Waiting in triage: unknown;" in unread
