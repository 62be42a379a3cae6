"""A report's history: the SQL that reads its stored events, and their assembly (pure) into
the timeline `GET /v1/reports/{id}` shows, whole for a person of the intake or without
subject ids and reason texts for a machine client."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any

import msgspec

from schemas.caseevents import CaseEventKind

# What a confirmed case (`u`, its `unit_cases` row) adds to `queued` and `delivered`: the
# deadline it carries and the case event kinds that meet it, when it has one.
_HELD = """(CASE WHEN u.due_at IS NULL THEN '{}'::jsonb
      ELSE jsonb_build_object('deadline_at', u.due_at, 'met_by', u.met_by) END)"""

# Every event of one report (`$1`), from the append-only tables and the outbox, as one JSON
# array (a scalar subquery, so the single-report read stays one round trip). Each source is
# an index lookup by report id; `seq` orders events stored at the same instant in the order
# they happen. A person's act carries the version its correction made (`report_versions`,
# the audit, rather than what the act's details say). A unit's case event (`case_<kind>`)
# names the unit, its code (a return's reason, an outcome), whether it met the case's
# deadline (on time or late), when it was recorded, the door and the client that sent it.
# A district is a slug in every event, as a person's transfer names one: the rules' decision
# names it by the catalogue's name, made a slug here (`district_slug`, migration 0018).
HISTORY_JSON = """(
SELECT coalesce(json_agg(e ORDER BY e.at, e.seq, e.act_id), '[]'::json)::text FROM (
    SELECT r.received_at AS at, 0 AS seq, 'accepted'::text AS event,
           'client'::text AS by_kind, r.client_id AS by_id, 'submitter'::text AS by_role,
           NULL::text AS reason,
           jsonb_build_object('source_format', r.source_format, 'version', 1) AS details,
           NULL::integer AS version, NULL::uuid AS act_id
    FROM reports r WHERE r.id = $1
    UNION ALL
    SELECT o.published_at, 1, 'published', 'intake', NULL, NULL, NULL, '{}'::jsonb,
           NULL, NULL
    FROM outbox o
    WHERE o.report_id = $1 AND o.decision_id IS NULL AND o.published_at IS NOT NULL
    UNION ALL
    SELECT d.decided_at, 2, 'decided', 'rules', d.ruleset_version, NULL, NULL,
           jsonb_build_object('unit', d.unit, 'district', district_slug(d.district),
                              'priority', d.priority,
                              'deadline_at', d.deadline_at, 'matched_rules', d.matched_rules,
                              'triage_reasons', d.triage_reasons,
                              'ruleset_version', d.ruleset_version),
           NULL, NULL
    FROM decisions d WHERE d.report_id = $1
    UNION ALL
    SELECT c.confirmed_at, 3, CASE WHEN c.unit = 'triage' THEN 'triaged' ELSE 'queued' END,
           'router', NULL, NULL, NULL,
           jsonb_build_object('unit', c.unit, 'district', district_slug(d.district),
                              'triage_reasons', d.triage_reasons) || {_HELD},
           NULL, NULL
    FROM case_deliveries c LEFT JOIN decisions d ON d.report_id = c.report_id
    LEFT JOIN unit_cases u ON u.case_id = c.report_id AND u.unit = c.unit
    WHERE c.report_id = $1
    UNION ALL
    SELECT x.at, 4, 'dead_lettered', 'router', NULL, NULL, x.reason,
           jsonb_build_object('code', x.code), NULL, NULL
    FROM dead_letters x WHERE x.report_id = $1
    UNION ALL
    SELECT a.acted_at, 5, a.kind, 'person', a.actor, a.actor_role, a.reason, a.details,
           (SELECT v.version FROM report_versions v
            WHERE v.report_id = $1 AND v.act_id = a.id), a.id
    FROM person_acts a WHERE a.report_id = $1
    UNION ALL
    SELECT p.confirmed_at, 6, 'delivered', 'router', NULL, NULL, NULL,
           jsonb_build_object('unit', p.unit, 'decision_id', p.decision_id) || {_HELD},
           NULL, NULL
    FROM person_case_deliveries p LEFT JOIN unit_cases u ON u.case_id = p.decision_id
    WHERE p.report_id = $1
    UNION ALL
    SELECT e.occurred_at, 7, 'case_' || e.kind, 'unit', e.unit, NULL, NULL,
           jsonb_strip_nulls(jsonb_build_object(
               'unit', e.unit, 'reason', e.reason, 'outcome', e.outcome,
               'deadline', CASE WHEN u.met_event = e.event_id
                                THEN CASE WHEN u.met_at <= u.due_at THEN 'met_on_time'
                                          ELSE 'met_late' END END,
               'recorded_at', e.recorded_at, 'via', e.via, 'client', e.client,
               'event_id', e.event_id)),
           NULL, NULL
    FROM case_events e JOIN unit_cases u ON u.case_id = e.case_id
    WHERE e.report_id = $1
) e)""".replace("{_HELD}", _HELD)

# Who acts in a report's life: the client that sent it, the intake's outbox relay, the rules,
# the router (a queue confirmed, a dead letter), a person of the intake, a unit (its case).
KINDS = ("client", "intake", "rules", "router", "person", "unit")


class Fact(msgspec.Struct, frozen=True):
    """One stored event as `HISTORY_JSON` reads it: when, its order among events of the same
    instant (`seq`), the event name, who (kind, id: a client id, a rule set version, a
    person's subject id; role), the free-text reason (a person's, or a dead letter's one
    line), the stored details as they are, the version a correction made, the act's id."""

    at: dt.datetime
    seq: int
    event: str
    by_kind: str
    by_id: str | None = None
    by_role: str | None = None
    reason: str | None = None
    details: dict[str, Any] = {}
    version: int | None = None
    act_id: uuid.UUID | None = None


class Actor(msgspec.Struct, frozen=True):
    """Who did it: `kind` (`client`, `intake`: its outbox relay, `rules`, `router`,
    `person`), `id` (the client's id, the rule set's version, the person's subject id; None
    in a machine client's view) and `role` (`submitter`, `assessor`, `prosecutor`)."""

    kind: str
    id: str | None = None
    role: str | None = None


class HistoryEvent(msgspec.Struct, frozen=True):
    """One event of a report's history: when (UTC), what, by whom, the reason a person gave
    (None in a machine client's view), and what it did (`DETAILS` names the keys per
    event; never the values a correction changed)."""

    at: dt.datetime
    event: str
    by: Actor
    reason: str | None
    details: dict[str, Any]


# A unit's case event: its unit and code, the deadline it met, when recorded, by which door.
_CASE_EVENT = ("unit", "reason", "outcome", "deadline", "recorded_at", "via", "client", "event_id")
# The details each event shows, by name; anything else stored is left out (a claim's token
# is the claimant's to use, never shown; a correction names fields, never their values).
_PROPOSAL = ("proposal",)
DETAILS: dict[str, tuple[str, ...]] = {
    "accepted": ("source_format", "version"),
    "published": (),
    "decided": (
        "unit",
        "district",
        "priority",
        "deadline_at",
        "matched_rules",
        "triage_reasons",
        "ruleset_version",
    ),
    "triaged": ("unit", "district", "triage_reasons"),
    "queued": ("unit", "deadline_at", "met_by"),
    "dead_lettered": ("code",),
    "claimed": ("lease_until",),
    "released": ("lapsed",),
    "corrected": ("fields", "version", "unit", "priority", "downgrade"),
    "routed": ("unit", "priority", "deadline_at", "overridden", "suggested_unit", "downgrade"),
    "transferred": ("to", "district", "unit", "organisation_number", "authority"),
    "linked": ("linked_to", "unit"),
    "closure_proposed": ("ground", "basis"),
    "closure_approved": _PROPOSAL,
    "closure_rejected": _PROPOSAL,
    "transfer_approved": _PROPOSAL,
    "transfer_rejected": _PROPOSAL,
    "downgrade_reviewed": ("act",),
    "delivered": ("unit", "decision_id", "deadline_at", "met_by"),
    **{f"case_{kind}": _CASE_EVENT for kind in CaseEventKind},
}
# What only a person of the intake sees of an event: the client of a unit's system.
_FULL_ONLY = ("client",)


def decode(history_json: str | bytes) -> list[Fact]:
    """The facts of `HISTORY_JSON`'s array; raises `msgspec.ValidationError` on another
    shape."""
    return msgspec.json.decode(history_json, type=list[Fact])


def _details(fact: Fact) -> dict[str, Any]:
    shown = {k: fact.details[k] for k in DETAILS.get(fact.event, ()) if k in fact.details}
    if fact.event == "corrected" and fact.version is not None:
        # The version the audit holds for this act, whatever the act's details said.
        shown["version"] = fact.version
    if fact.act_id is not None:
        shown["act_id"] = str(fact.act_id)
    return shown


def event_of(fact: Fact, *, full: bool) -> HistoryEvent:
    """The event a fact shows: `full` for a person of the intake; else (a machine client) a
    person's act says kind and role only (no subject id), no reason text is shown, nor the
    client of a unit's system; the client's own id and the rules' set version stay."""
    hidden = not full and fact.by_kind == "person"
    details = _details(fact)
    if not full:
        for key in _FULL_ONLY:
            details.pop(key, None)
    return HistoryEvent(
        at=fact.at.astimezone(dt.UTC),
        event=fact.event,
        by=Actor(fact.by_kind, None if hidden else fact.by_id, fact.by_role),
        reason=fact.reason if full else None,
        details=details,
    )


def assemble(facts: Iterable[Fact], *, full: bool) -> list[HistoryEvent]:
    """A report's history, oldest first (events of the same instant in the order they
    happen: accepted, published, decided, queued or triaged, dead-lettered, a person's acts,
    delivered, a unit's case events); `full` as in `event_of`."""
    return [event_of(fact, full=full) for fact in _in_order(facts)]


# The machine half's events, each of which can only follow the one before: accepted,
# published, decided, queued or triaged.
_PIPELINE = frozenset({0, 1, 2, 3})


def _in_order(facts: Iterable[Fact]) -> list[Fact]:
    """Oldest first, but never a machine-half event before the one it follows: the relay
    records `published` when the broker confirmed, which can come after the router already
    decided on the delivered message; such an event is placed before its successor, keeping
    its own (true) time."""
    facts = list(facts)
    stages = sorted((f for f in facts if f.seq in _PIPELINE), key=lambda f: f.seq)
    placed: dict[int, dt.datetime] = {}
    for fact in reversed(stages):
        # An event sorts no later than every event that must follow it.
        later = [placed[id(f)] for f in stages if f.seq > fact.seq and id(f) in placed]
        placed[id(fact)] = min([fact.at, *later])
    return sorted(facts, key=lambda f: (placed.get(id(f), f.at), f.seq, str(f.act_id or "")))
