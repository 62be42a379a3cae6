"""The AsyncAPI operations: who sends to and who receives from each channel, and how."""

from __future__ import annotations

from typing import Any

from schemas.asyncapi.channels import CASE_DECIDED_KEY, REPORT_ACCEPTED_KEY
from schemas.asyncapi.messages import BINDING_VERSION, EVENT_REFUSALS

TAGS = {
    "intake": "The intake service.",
    "router": "The router service.",
    "unit": "An investigation unit's own system (fsi-unit is the reference client).",
    "operators": "The intake's operators, who read the dead-letter queue.",
    "tools": "Other tools reading the triage feed.",
}


def _op(
    action: str,
    channel: str,
    messages: tuple[str, ...],
    who: str,
    title: str,
    description: str,
    **binding: Any,
) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in messages],
        "title": title,
        "description": description,
        "tags": [{"$ref": f"#/components/tags/{who}"}],
        "bindings": {"amqp": {**binding, "bindingVersion": BINDING_VERSION}},
    }


def _refusals() -> str:
    return "; ".join(f"`{code}`: {words}" for code, words in EVENT_REFUSALS.items())


def operations() -> dict[str, Any]:
    """The operations, by key; each names its actor as its tag."""
    published = {"deliveryMode": 2, "timestamp": True}
    return {
        "publishReportAccepted": _op(
            "send",
            "reports",
            ("reportAccepted",),
            "intake",
            "The intake publishes a report",
            "From its outbox once the report is committed, with publisher confirms.",
            cc=[REPORT_ACCEPTED_KEY],
            **published,
        ),
        "publishCaseDecided": _op(
            "send",
            "reports",
            ("caseDecided",),
            "intake",
            "The intake announces a decision",
            "From its outbox in the transaction that stored the person's decision.",
            cc=[CASE_DECIDED_KEY],
            **published,
        ),
        "routeReports": _op(
            "receive",
            "routingReports",
            ("reportAccepted",),
            "router",
            "The router decides each report",
            "Stores the decision, publishes the case, acknowledges once the case is confirmed.",
            ack=True,
        ),
        "routeDecisions": _op(
            "receive",
            "routingDecisions",
            ("caseDecided",),
            "router",
            "The router sends each case a person decided",
            "Reads the decision from PostgreSQL, publishes its case, records the delivery, "
            "then acknowledges.",
            ack=True,
        ),
        "publishCase": _op(
            "send",
            "cases",
            ("caseRouted",),
            "router",
            "The router publishes a case",
            "Routing key = the unit's id (or `triage`), mandatory (a case no queue takes is "
            "returned and published again until one does), persistent, with publisher "
            "confirms; the case counts as routed only once its queue confirmed it.",
            mandatory=True,
            **published,
        ),
        "receiveCases": _op(
            "receive",
            "unitQueue",
            ("caseRouted",),
            "unit",
            "A unit consumes its cases",
            "Consume your unit's queue with prefetch 1 so the broker hands you the most "
            "urgent case first (message priority, then arrival). Store each case in your own "
            "system, committed, and only then acknowledge it: a case not acknowledged is "
            "delivered again. Store by `message_id`, so a redelivered case is stored once. "
            "Reject a case you cannot read without requeueing: it goes to the dead-letter "
            "queue. Then publish `received` on `caseEvents`.",
            ack=True,
        ),
        "readTriageFeed": _op(
            "receive",
            "triage",
            ("caseRouted",),
            "tools",
            "Tools read the triage feed",
            "Copies only: the intake's people work the work list.",
            ack=True,
        ),
        "sendCaseEvent": _op(
            "send",
            "caseEvents",
            ("caseEvent",),
            "unit",
            "A unit answers with a case event",
            "Publish each event with routing key = your unit's id, `message_id` = "
            "`event_id`, `type` `fsi.case.event.v1`, `user_id` = your broker user, "
            "persistent, with publisher confirms; publish again (same id, same content) "
            "when no confirm came. The router applies it once. A refused event is not "
            "answered: it is dead-lettered with the reason in `x-fsi-reason` and "
            "acknowledged, and changes nothing. Refusals: " + _refusals() + ". For a "
            "verdict in the answer, use the intake's `POST /v1/cases/{report_id}/events` "
            "(the same body without `report_id`: 201 applied, 200 repeat, or a problem).",
            deliveryMode=2,
            mandatory=True,
        ),
        "applyCaseEvents": _op(
            "receive",
            "routingCaseEvents",
            ("caseEvent",),
            "router",
            "The router applies case events",
            "In batches, one transaction each: applied or repeat is acknowledged; a refused "
            "event is dead-lettered with its reason, then acknowledged.",
            ack=True,
        ),
        "deadLetter": _op(
            "send",
            "deadLetters",
            ("refused",),
            "router",
            "The router dead-letters a message",
            "A copy with `x-fsi-reason` and `x-fsi-original-queue`, confirmed before the "
            "original is acknowledged. Reports and decisions: not decodable, not the "
            "contract, a message id other than the body's, no such report or decision, a "
            "report that differs from the stored one, no decision possible. Case events: "
            + _refusals()
            + ".",
            deliveryMode=2,
        ),
        "readDeadLetters": _op(
            "receive",
            "deadLetterQueue",
            ("refused", "rejected"),
            "operators",
            "Operators read the dead letters",
            "Each message names why it is there (`x-fsi-reason`, or RabbitMQ's `x-death`).",
            ack=True,
        ),
    }
