"""The AsyncAPI messages: each contract's payload, its AMQP properties and headers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from schemas.caseevents import CASE_EVENT_TYPE
from schemas.decision import Priority
from schemas.envelope import (
    CASE_DECIDED_TYPE,
    CASE_ROUTED_TYPE,
    CONTENT_TYPE,
    REPORT_ACCEPTED_TYPE,
)

BINDING_VERSION = "0.3.0"
# The acts of a person that send a case (schemas.decision.DecidedBy.act).
PERSON_ACTS = ("routed", "transferred", "linked", "corrected")
# Why the router refuses a case event (services.common.caseevents.model.Refusal, and the
# router's routing-key check), in words a unit's developer acts on.
EVENT_REFUSALS = {
    "not_held": "your unit holds no case of that report (also when there is no such report, "
    "or the case was returned)",
    "conflict": "the event id was used before with other content",
    "after_closure": "dated after the case's `closed`, or a second `closed` or a `returned` "
    "of a closed case",
    "already_received": "a second `received` under another event id",
    "before_routing": "an act of the unit (all but `interview_held`, `brought_before_court`, "
    "`released`, which happen before a case reaches it) dated more than 2 minutes before the "
    "case was routed",
    "before_moment": "an event that meets the case's deadline dated more than 2 minutes "
    "before the moment the deadline counts from (`released` before the arrest)",
    "in_future": "`occurred_at` more than 2 minutes ahead of the router's clock",
    "closed_before_events": "a `closed` dated before an event already recorded",
    "invalid": "not a CaseEvent (empty, not UTF-8, not JSON, a key given twice, a field "
    "missing, unknown or ill-typed), a `message_id` other than its `event_id`, or a "
    "cross-field rule broken (`reason` for `returned` only, and required there; `outcome` "
    "for `prosecution_decision` and `closed` only, and required there; `occurred_at` with "
    "an offset, in the years 1900-2100 UTC)",
    "unit_mismatch": "the routing key is not the body's `unit`",
}
# Why RabbitMQ itself dead-letters a message (its dead-lettering guide, 3.x and 4.x).
BROKER_DEATH_REASONS = ("rejected", "expired", "maxlen", "delivery_limit")


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _headers(required: tuple[str, ...], **properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {k.replace("_", "-"): v for k, v in properties.items()},
        "required": list(required),
    }


def _text(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **more}


def _properties(message_id: str, message_type: str | None, **more: str) -> dict[str, str]:
    """The AMQP basic properties a message carries, in words (an `x-amqp-properties`
    extension: the AMQP message binding names only the type)."""
    made = {"message_id": message_id}
    if message_type is not None:
        made["type"] = f"`{message_type}`"
    made["content_type"] = f"`{CONTENT_TYPE}`"
    made["delivery_mode"] = "2 (persistent)"
    return {**made, **more}


def _message(
    name: str,
    title: str,
    summary: str,
    description: str,
    payload: dict[str, Any],
    message_type: str | None,
    properties: dict[str, str],
    headers: dict[str, Any] | None = None,
    examples: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    made: dict[str, Any] = {
        "name": name,
        "title": title,
        "summary": summary,
        "description": description,
        "contentType": CONTENT_TYPE,
        "payload": payload,
    }
    if headers is not None:
        made["headers"] = headers
    binding: dict[str, str] = {"bindingVersion": BINDING_VERSION}
    if message_type is not None:
        binding["messageType"] = message_type
    made["bindings"] = {"amqp": binding}
    made["x-amqp-properties"] = properties
    if examples:
        made["examples"] = examples
    return made


def priority_words(priorities: Mapping[str, int]) -> str:
    """`critical` → 9, … as the rules file maps the named levels (most urgent first)."""
    levels = sorted(priorities.items(), key=lambda kv: -kv[1])
    return ", ".join(f"`{name}` → {value}" for name, value in levels)


def messages(priorities: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """components/messages: every message of the channels, by its key."""
    mapping = priority_words(priorities)
    return {
        "reportAccepted": _message(
            "ReportAccepted",
            "A report accepted",
            "The intake's standardised report, committed and ready to route.",
            "Published by the intake's outbox relay once the report is committed (at least "
            "once: the router reads a repeat as the same report).",
            _ref("ReportAccepted"),
            REPORT_ACCEPTED_TYPE,
            _properties("the report id", REPORT_ACCEPTED_TYPE, timestamp="when published"),
            _headers((), x_fsi_source_format=_text("The source format the report came in.")),
        ),
        "caseDecided": _message(
            "CaseDecided",
            "A case a person decided",
            "A person of the intake decided where a report goes.",
            "Only a trigger: the router reads the stored decision and the report version it "
            "names from PostgreSQL and publishes that case.",
            _ref("CaseDecided"),
            CASE_DECIDED_TYPE,
            _properties("the decision id", CASE_DECIDED_TYPE, timestamp="when published"),
            _headers((), x_fsi_source_format=_text("The source format of the report.")),
        ),
        "caseRouted": _message(
            "CaseRouted",
            "A case for a unit",
            "The standardised report with its routing decision (unit, priority, deadline).",
            "A case the rules decided carries the report as accepted; a case a person "
            "decided carries the report version they decided on and `decision.decided_by`. "
            "The body holds personal data (persons, free text): keep it out of logs.",
            _ref("CaseRouted"),
            CASE_ROUTED_TYPE,
            _properties(
                "the report id for a case the rules decided; the deciding act's id "
                "(`decision.decided_by.act_id`) for a case a person decided. The same case "
                "redelivered keeps its id: use it to store a case once.",
                CASE_ROUTED_TYPE,
                priority=(
                    "0-9, higher first: the decision's `amqp_priority`, which the rules file "
                    f"(deploy/routing/rules.yaml, `priorities`) gives each Priority: {mapping}. "
                    "Classic unit queues are declared with `x-max-priority` 10 and keep "
                    "every level apart; quorum queues (RabbitMQ 4) keep two, 0-4 and 5 and "
                    "above, the higher delivered first but not exclusively."
                ),
                timestamp="when the decision was made",
            ),
            _headers(
                ("x-fsi-priority", "x-fsi-ruleset"),
                x_fsi_priority={"type": "string", "enum": [p.value for p in Priority]},
                x_fsi_ruleset=_text("The rule set's version that decided (`sha256:…`)."),
                x_fsi_deadline=_text(
                    "The deadline, RFC 3339 in UTC (`…Z`); absent when none.", format="date-time"
                ),
                x_fsi_act={
                    "type": "string",
                    "enum": list(PERSON_ACTS),
                    "description": "A person's case only: the act that sent it.",
                },
            ),
        ),
        "caseEvent": _message(
            "CaseEvent",
            "A case event from a unit",
            "What happened to a case at its unit: received, returned, … closed.",
            "Applied once per `event_id` (the same id and content again is a repeat; the "
            "same id with other content is refused as a conflict). No free text: reasons "
            "and outcomes are codes.",
            _ref("CaseEvent"),
            CASE_EVENT_TYPE,
            _properties(
                "the event id (`event_id`)",
                CASE_EVENT_TYPE,
                user_id="your broker user (RabbitMQ checks it); recorded as `amqp:<user>`",
            ),
            examples=_event_examples(),
        ),
        "refused": _message(
            "Refused",
            "A message the router refused",
            "A copy of a message the router could not route or apply, with the reason.",
            "The body, message id, type and content type are the original's, unchanged "
            "(the body may not even be JSON). The router acknowledged the original once this "
            "copy was confirmed.",
            {"description": "The original message's body, unchanged."},
            None,
            _properties("the original's", None, type="the original's"),
            _headers(
                ("x-fsi-reason", "x-fsi-original-queue"),
                x_fsi_reason=_text(
                    "Why, in plain words without personal data (quoted values and unknown "
                    "keys are left out)."
                ),
                x_fsi_original_queue=_text("The queue the original came from."),
                x_fsi_code={
                    "type": "string",
                    "enum": list(EVENT_REFUSALS),
                    "description": "A case event's only: why, as a code (see `sendCaseEvent`).",
                },
                x_fsi_client=_text(
                    "A case event's only: who sent it, `amqp:<broker user>` (its `user_id`), "
                    "or `amqp:-` when it named none."
                ),
            ),
        ),
        "rejected": _message(
            "Rejected",
            "A message the broker dead-lettered",
            "A case a unit's consumer rejected without requeueing, or one past a quorum "
            "queue's delivery limit.",
            "RabbitMQ moves it with its own headers (the unit queues' policy names the "
            "dead-letter exchange).",
            {"description": "The original message's body, unchanged."},
            None,
            _properties("the original's", None, type="the original's"),
            _headers(
                (),
                x_death={
                    "type": "array",
                    "description": "RabbitMQ's record of each dead-lettering (queue, reason, "
                    "count, time).",
                },
                x_first_death_reason={"type": "string", "enum": list(BROKER_DEATH_REASONS)},
                x_first_death_queue=_text("The queue it was dead-lettered from."),
                x_first_death_exchange=_text("The exchange it had been published to."),
            ),
        ),
    }


def _event_examples() -> list[dict[str, Any]]:
    report = str(uuid.UUID(int=0x5F0E_0000_0000_4000_8000_0000_0000_0001))
    unit = "oslo.vold-og-seksual"
    return [
        {
            "name": "received",
            "summary": "The unit stored the case in its own system.",
            "payload": {
                "event_id": str(uuid.UUID(int=0x5F0E_0000_0000_4000_8000_0000_0000_0002)),
                "unit": unit,
                "kind": "received",
                "occurred_at": "2026-12-01T10:00:00+01:00",
                "report_id": report,
            },
        },
        {
            "name": "returned",
            "summary": "The case belongs to another district: back to the intake's work list.",
            "payload": {
                "event_id": str(uuid.UUID(int=0x5F0E_0000_0000_4000_8000_0000_0000_0003)),
                "unit": unit,
                "kind": "returned",
                "occurred_at": "2026-12-01T10:05:00+01:00",
                "reason": "wrong_district",
                "report_id": report,
            },
        },
    ]
