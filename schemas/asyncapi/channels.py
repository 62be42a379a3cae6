"""The AsyncAPI channels (the exchanges and queues of services/common/topology.py, by name)
and the operations on them: who sends, who receives."""

from __future__ import annotations

from typing import Any

from schemas.asyncapi.messages import BINDING_VERSION

# The topology's names below the prefix (services/common/topology.py; a test holds them
# equal to its `Topology`, which the contracts may not import).
REPORTS = ("{prefix}reports", "direct")
CASES = ("{prefix}cases", "direct")
DEAD_LETTER_EXCHANGE = ("{prefix}dead-letter", "fanout")
CASE_EVENTS = ("{prefix}case-events", "topic")
ROUTING_QUEUE = "{prefix}routing.reports"
DECISIONS_QUEUE = "{prefix}routing.decisions"
CASE_EVENTS_QUEUE = "{prefix}routing.case-events"
TRIAGE_QUEUE = "{prefix}triage"
DEAD_LETTER_QUEUE = "{prefix}dead-letter"
UNIT_QUEUE = "{prefix}unit.{unit}"
REPORT_ACCEPTED_KEY = "report.accepted"
CASE_DECIDED_KEY = "case.decided"
TRIAGE_KEY = "triage"

_DEAD_LETTERED = (
    " A message the router cannot read or apply is copied to the dead-letter exchange with "
    "its reason and acknowledged; the queue also names that exchange as its own "
    "(`x-dead-letter-exchange`)."
)
_PRIORITY_QUEUE = (
    " Declared with message priority: a classic queue with `x-max-priority` 10 (the default, "
    "`FSI_BROKER_QUEUE_TYPE=classic`), or a quorum queue (RabbitMQ 4)."
)


def _messages(*keys: str) -> dict[str, Any]:
    return {k: {"$ref": f"#/components/messages/{k}"} for k in keys}


def _parameters(address: str) -> dict[str, Any]:
    names = [n for n in ("prefix", "unit") if "{" + n + "}" in address]
    return {n: {"$ref": f"#/components/parameters/{n}"} for n in names}


def _channel(
    address: str, title: str, description: str, messages: tuple[str, ...], amqp: dict[str, Any]
) -> dict[str, Any]:
    return {
        "address": address,
        "title": title,
        "description": description,
        "messages": _messages(*messages),
        "parameters": _parameters(address),
        "bindings": {"amqp": {**amqp, "bindingVersion": BINDING_VERSION}},
    }


def _exchange(
    name_type: tuple[str, str], title: str, description: str, *messages: str
) -> dict[str, Any]:
    name, kind = name_type
    exchange = {"name": name, "type": kind, "durable": True, "autoDelete": False}
    return _channel(name, title, description, messages, {"is": "routingKey", "exchange": exchange})


def _queue(
    name: str, title: str, description: str, bound: list[tuple[str, str]], *messages: str
) -> dict[str, Any]:
    queue = {"name": name, "durable": True, "exclusive": False, "autoDelete": False}
    return {
        **_channel(name, title, description, messages, {"is": "queue", "queue": queue}),
        "x-amqp-bound-to": [{"exchange": e, "routingKey": k} for e, k in bound],
    }


def channels() -> dict[str, Any]:
    """The channels, by key: one per exchange and one per queue of the topology."""
    return {
        "reports": _exchange(
            REPORTS,
            "Reports exchange",
            f"Intake → router. Routing key `{REPORT_ACCEPTED_KEY}` for an accepted report, "
            f"`{CASE_DECIDED_KEY}` for a case a person decided.",
            "reportAccepted",
            "caseDecided",
        ),
        "routingReports": _queue(
            ROUTING_QUEUE,
            "The router's reports",
            "The router's input of accepted reports." + _DEAD_LETTERED,
            [(REPORTS[0], REPORT_ACCEPTED_KEY)],
            "reportAccepted",
        ),
        "routingDecisions": _queue(
            DECISIONS_QUEUE,
            "The router's people's decisions",
            "The router's input of cases people decided." + _DEAD_LETTERED,
            [(REPORTS[0], CASE_DECIDED_KEY)],
            "caseDecided",
        ),
        "cases": _exchange(
            CASES,
            "Cases exchange",
            "Router → units and triage. Routing key = the unit's id (`{unit}`), or "
            f"`{TRIAGE_KEY}` for a case that needs a person first.",
            "caseRouted",
        ),
        "unitQueue": _queue(
            UNIT_QUEUE,
            "A unit's cases",
            "Your unit's queue: every case the rules or a person of the intake sent to your "
            "unit, most urgent first. Consume with manual acknowledgements and a prefetch of "
            "1 (`basic.qos`): the broker then hands you the most urgent case waiting each "
            "time (a larger prefetch lets cases already handed over go before a more urgent "
            "one that arrives later). Acknowledge a case only once it is stored in your own "
            "system; one not acknowledged when your connection drops is delivered again "
            "(`redelivered`), with the same `message_id`. A case you cannot read: reject it "
            "without requeueing (it goes to the dead-letter queue, where the intake's "
            "operators see it), never requeue it in a loop. Then answer with a `received` "
            "case event on `caseEvents`." + _PRIORITY_QUEUE,
            [(CASES[0], "{unit}")],
            "caseRouted",
        ),
        "triage": _queue(
            TRIAGE_QUEUE,
            "The triage feed",
            "Copies of the cases sent to triage, for other tools (the broker user "
            "`{prefix}triage`). People work the intake's work list, not this queue; the "
            "broker definitions bound it at 10 000 copies, the oldest dropped." + _PRIORITY_QUEUE,
            [(CASES[0], TRIAGE_KEY)],
            "caseRouted",
        ),
        "caseEvents": _exchange(
            CASE_EVENTS,
            "Case events exchange",
            "Units → router: answer here. Routing key = your unit's id: the broker's topic "
            "permission lets your user publish under its own unit id only, and the router "
            "refuses an event whose body names another unit.",
            "caseEvent",
        ),
        "routingCaseEvents": _queue(
            CASE_EVENTS_QUEUE,
            "The router's case events",
            "The router's input of case events from every unit (bound with `#`)." + _DEAD_LETTERED,
            [(CASE_EVENTS[0], "#")],
            "caseEvent",
        ),
        "deadLetters": _exchange(
            DEAD_LETTER_EXCHANGE,
            "Dead-letter exchange",
            "Messages refused by the router (with `x-fsi-reason`), and cases a unit's "
            "consumer rejected (RabbitMQ's `x-death`).",
            "refused",
            "rejected",
        ),
        "deadLetterQueue": _queue(
            DEAD_LETTER_QUEUE,
            "The dead-letter queue",
            "Where refused and rejected messages wait for a person (the broker user "
            "`{prefix}dead-letter`); never redelivered by themselves.",
            [(DEAD_LETTER_EXCHANGE[0], "")],
            "refused",
            "rejected",
        ),
    }
