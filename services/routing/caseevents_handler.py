"""Case events from the units over AMQP, apart from the transport: read, check, apply a batch.

A delivery is read as `schemas.caseevents.CaseEvent` and checked (its cross-field rules, its
routing key against its unit) before anything is asked of PostgreSQL; what passes goes to
`services.common.caseevents.store.apply_events` in one call (one transaction) per batch.
Each delivery comes to a `Verdict`: `applied` or `repeat` (to acknowledge), or refused with
a code and a reason in plain words without personal data (to dead-letter, then
acknowledge). A database failure is raised, never made a verdict: the batch is tried again.
"""

from __future__ import annotations

import re
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from schemas.caseevents import CASE_EVENT_TYPE, CaseEvent, field_problems
from services.common import broker, db, jsontext
from services.common.caseevents.metrics import APPLIED, REPEAT, UNIT_MISMATCH, UNKNOWN_KIND
from services.common.caseevents.model import Refusal
from services.common.caseevents.store import Incoming, Outcome
from services.common.logging import get_logger
from services.routing.deliveries import redacted

log = get_logger("router")
# Failures that say nothing about the events: the database or broker unreachable or going
# away, a transaction another one made roll back, a lock or statement timeout, an event id
# another transaction recorded at the same moment. The batch is tried again, whole. Any other
# failure of a batch is a fault some event brings with it.
OUTAGE: tuple[type[Exception], ...] = (
    *db.CONNECTION_ERRORS,
    *broker.BROKER_ERRORS,
    asyncpg.TransactionRollbackError,
    asyncpg.LockNotAvailableError,
    asyncpg.QueryCanceledError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.UniqueViolationError,
)
_UNIT_ID = re.compile(r"^[a-z0-9][a-z0-9.-]{0,99}$")  # schemas.caseevents.UnitId

# Applies a batch in one transaction: `store.apply_events` on a connection of the pool.
ApplyEvents = Callable[[Sequence[Incoming]], Awaitable[list[Outcome]]]


@dataclass(frozen=True, slots=True)
class Delivered:
    """What the handler reads of a delivery: its body, routing key, `user_id` property
    (which RabbitMQ checks against the publisher's user when set) and `message_id` (the
    contract's: the event's id; None when the publisher set none)."""

    body: bytes
    routing_key: str | None
    user_id: str | None
    message_id: str | None = None

    @property
    def client(self) -> str:
        """Who sent it, as `case_events.client` records it: `amqp:<broker user>`, or
        `amqp:-` when the publisher did not name its user."""
        return f"amqp:{self.user_id or '-'}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What became of one delivery: `verdict` is one of `VERDICTS`; `kind` the event's kind
    (`unknown` when the body is no event); the ids when the body named them; `reason`, for
    a refused one, the dead letter's reason (plain words, no personal data)."""

    verdict: str
    kind: str
    event_id: uuid.UUID | None = None
    report_id: uuid.UUID | None = None
    unit: str | None = None
    reason: str | None = None

    @property
    def refused(self) -> bool:
        """Whether the delivery goes to the dead-letter queue."""
        return self.verdict not in (APPLIED, REPEAT)


def read(delivered: Delivered) -> Incoming | Verdict:
    """The delivery as an event to apply, or why it is refused before the store sees it:
    empty, not UTF-8, not JSON, a key given twice, not a `CaseEvent` (`jsontext.decode`:
    the path named; quoted values and unknown keys left out), a cross-field rule broken
    (`field_problems`, by path), a `message_id` other than its `event_id`, or a routing
    key that is not the event's unit. Pure."""
    try:
        # As the intake's HTTP door reads a body: empty, not UTF-8, not JSON, a key given
        # twice (which of two values counts differs between parsers), then the type.
        event = jsontext.decode(delivered.body, CaseEvent)
    except jsontext.JsonTextError as exc:
        reason = f"not a {CASE_EVENT_TYPE} message: {redacted(exc.problem)}"
        return Verdict(Refusal.INVALID.value, UNKNOWN_KIND, reason=reason)
    problems = field_problems(event)
    if delivered.message_id is not None and delivered.message_id != str(event.event_id):
        shown = f"`{delivered.message_id}`" if _is_uuid(delivered.message_id) else "(no UUID)"
        problems.append(("message_id", f"{shown} is not the event's event_id"))
    if problems:
        reason = "; ".join(f"{path} {message}" for path, message in problems)
        return _refused(event, Refusal.INVALID.value, reason)
    if delivered.routing_key != event.unit:
        key = delivered.routing_key or ""
        shown = f"`{key}`" if _UNIT_ID.match(key) else "(not a unit id)"
        reason = f"the routing key {shown} is not the event's unit `{event.unit}`"
        return _refused(event, UNIT_MISMATCH, reason)
    return Incoming(event, delivered.client, "amqp")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _refused(event: CaseEvent, verdict: str, reason: str) -> Verdict:
    return Verdict(verdict, event.kind.value, event.event_id, event.report_id, event.unit, reason)


def judged(incoming: Incoming, outcome: Outcome) -> Verdict:
    """The store's outcome of an event as a verdict: its refusal's code and message."""
    event = incoming.event
    if outcome.verdict == "refused":
        refusal = outcome.refusal or Refusal.INVALID
        return _refused(event, refusal.value, outcome.message or refusal.value)
    return Verdict(outcome.verdict, event.kind.value, event.event_id, event.report_id, event.unit)


async def settle(apply: ApplyEvents, batch: Sequence[Delivered]) -> list[Verdict]:
    """One verdict per delivery, in order: those refused on reading, and the rest applied
    with one `apply` call (none when nothing is left to apply). Raises what `apply` raises
    (a database failure: the batch is tried again)."""
    read_ = [read(d) for d in batch]
    incoming = [r for r in read_ if isinstance(r, Incoming)]
    if not incoming:
        return [r for r in read_ if isinstance(r, Verdict)]
    outcomes = await apply(incoming)
    if len(outcomes) != len(incoming):
        raise RuntimeError(f"{len(outcomes)} outcomes for {len(incoming)} events")
    by_event = iter(outcomes)
    return [r if isinstance(r, Verdict) else judged(r, next(by_event)) for r in read_]


async def settle_apart(apply: ApplyEvents, batch: Sequence[Delivered]) -> list[Verdict]:
    """`settle`, and when the batch fails by anything but an `OUTAGE` (raised: the batch is
    tried again), each delivery on its own: the ones that apply are applied, one that fails
    alone is refused as `invalid` naming the failure's class (its message may quote the
    event), so that one event the checks let through cannot hold every unit's events in
    retries. Logged with the ids and where it failed, never the body or the error's text."""
    try:
        return await settle(apply, batch)
    except OUTAGE:
        raise
    except Exception as exc:
        log.error(
            "a batch of case events failed; applying them one by one", error=type(exc).__name__
        )
    verdicts: list[Verdict] = []
    for delivered in batch:
        try:
            verdicts += await settle(apply, [delivered])
        except OUTAGE:
            raise
        except Exception as exc:
            read_ = read(delivered)
            why = f"could not be applied ({type(exc).__name__}): the router's log has the error"
            verdict = (
                _refused(read_.event, Refusal.INVALID.value, why)
                if isinstance(read_, Incoming)
                else read_
            )
            # The class and the line that raised it, not the message: it may quote the event.
            last = traceback.extract_tb(exc.__traceback__)[-1]
            log.error(
                "a case event could not be applied",
                error=type(exc).__name__,
                at=f"{Path(last.filename).name}:{last.lineno}",
                event_id=str(verdict.event_id),
                report_id=str(verdict.report_id),
            )
            verdicts.append(verdict)
    return verdicts
