"""A case event store in memory for the intake's HTTP tests: it judges with the real model
(`judge`, `applied`, repeats by digest, as the PostgreSQL store does), and the unit clients
the tests post as."""

from __future__ import annotations

import datetime as dt
import uuid

from services.common.caseevents.model import (
    HeldCase,
    Refusal,
    applied,
    deadline_state,
    judge,
)
from services.common.caseevents.store import Incoming, Outcome, digest
from services.intake.access import hash_key
from services.intake.cases.store import Applied

UNIT = "oslo.vold-og-seksual"
OTHER_UNIT = "oslo.felles-etterforskning"  # the client's too, holding no case
FOREIGN = "vest.felles-etterforskning"  # not the client's
KEYS = {"unit": "unit-key-" + "u" * 32, "unit-slow": "unit-slow-key-" + "w" * 32}
UNIT_CLIENTS = f"""  - id: unit-oslo
    key_sha256: {hash_key(KEYS["unit"])}
    roles: [unit]
    units: [{UNIT}, {OTHER_UNIT}]
  - id: unit-slow
    key_sha256: {hash_key(KEYS["unit-slow"])}
    roles: [unit]
    units: [{UNIT}]
    rate: {{per_second: 0.01, burst: 1}}
"""
NOW = dt.datetime.now(dt.UTC)


def unit_auth(name: str = "unit") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


class MemoryCaseEvents:
    """`CaseEventStore` in memory, judging as the PostgreSQL store does (`judge`, `applied`,
    repeats by digest); `cases` by (report id, unit), `calls` every event it was given."""

    def __init__(self) -> None:
        self.cases: dict[tuple[uuid.UUID, str], HeldCase] = {}
        self.seen: dict[uuid.UUID, tuple[uuid.UUID, bytes]] = {}
        self.calls: list[Incoming] = []

    def hold(self, unit: str = UNIT, due_in: dt.timedelta | None = dt.timedelta(days=3)) -> str:
        """A case the unit holds, routed an hour ago, with a deadline `due_in` from now (met
        by brought_before_court or released); its report id."""
        report_id = uuid.uuid4()
        self.cases[(report_id, unit)] = HeldCase(
            case_id=report_id,
            report_id=report_id,
            unit=unit,
            routed_at=NOW - dt.timedelta(hours=1),
            received_at=None,
            returned_at=None,
            closed_at=None,
            last_event_at=None,
            due_at=None if due_in is None else NOW + due_in,
            met_by=frozenset({"brought_before_court", "released"}),
            met_at=None,
            priority="critical",
        )
        return str(report_id)

    async def apply(self, incoming: Incoming, now: dt.datetime) -> Applied:
        self.calls.append(incoming)
        event = incoming.event
        sha, key = digest(event), (event.report_id, event.unit)
        verdict: tuple[Refusal, str] | None = None
        if event.event_id in self.seen:
            if self.seen[event.event_id][1] != sha:
                verdict = Refusal.CONFLICT, f"event {event.event_id} was recorded before"
        else:
            verdict = judge(event, self.cases.get(key), now)
        if verdict is not None:
            refused = Outcome(event.event_id, event.report_id, "refused", *verdict, None, None)
            return Applied(refused, None)
        repeat = event.event_id in self.seen
        if not repeat:
            self.cases[key] = applied(self.cases[key], event)
            self.seen[event.event_id] = (self.cases[key].case_id, sha)
        case = self.cases[key]
        state = deadline_state(case.due_at, case.met_at, case.returned_at, now)
        return Applied(
            Outcome(
                event.event_id,
                event.report_id,
                "repeat" if repeat else "applied",
                None,
                None,
                case.case_id,
                state,
            ),
            case,
        )


# The store of the app's current start (a new one at every start).
