"""A person's dispositions of a claimed report, as use cases over a store: the one
transaction each runs in (lock, replay, act, changes), `correct` (with a preview) and
`route`; `transfers` holds transfer, link and closure."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from schemas.decision import TRIAGE_UNIT, Priority
from schemas.report import LATEST_YEAR
from services.common.rules.engine import decide
from services.common.standardise import Options
from services.common.text import quoted
from services.intake import metrics
from services.intake.people import Person
from services.intake.triage import cases
from services.intake.triage.acts import Answer, Attempt, NewAct, attempt, keyed, replay
from services.intake.triage.disposition_model import (
    Case,
    DispositionStore,
    DispositionTx,
    Route,
    invalid_field,
    needs_reason,
    visible_reason,
)
from services.intake.triage.grounds import ClosureGrounds
from services.intake.triage.model import ItemRow, Refusal
from services.intake.triage.rulebook import RuleBook

Clock = Callable[[], dt.datetime]
# Records the act with the request's key and the answer, before the act's other writes.
Record = Callable[[NewAct, Answer], Awaitable[None]]
Work = Callable[[DispositionTx, ItemRow, dt.datetime, Record], Awaitable[Answer]]
_plain = msgspec.json.Encoder()
# What a claimed report's work item becomes when its claim ends with the act.
UNCLAIMED = {"claimed_by": None, "claim_role": None, "claim_token": None, "lease_until": None}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class Context:
    """What every disposition needs: the store, the rules (a request takes the rule set in
    force once: `rules.ruleset`), the closure grounds, how the intake
    standardises, and a clock (UTC)."""

    store: DispositionStore
    rules: RuleBook
    grounds: ClosureGrounds
    options: Options = field(default_factory=Options)
    clock: Clock = _now


async def run(
    ctx: Context,
    person: Person,
    report_id: uuid.UUID,
    claim: uuid.UUID,
    done: Attempt,
    work: Work,
) -> Answer:
    """One disposition under the claim `claim`, in one transaction: the work item locked
    (the person must hold its live claim), a retry under the same key answered from the
    first act (whatever the item's state since), else `work` done."""
    now = ctx.clock()
    async with ctx.store.transaction() as tx:
        try:
            item = await tx.lock_claimed(report_id, person, claim, now)
        except Refusal:
            # A first attempt that ended the claim answers its retry.
            first = await tx.answer_of(person.subject, done.key)
            if first is None:
                raise
            return replay(first, done)
        first = await tx.answer_of(person.subject, done.key)
        if first is not None:
            return replay(first, done)

        async def record(act: NewAct, answer: Answer) -> None:
            await tx.record(keyed(act, done, answer))

        answer = await work(tx, item, now, record)
    # Committed, and not a retry (answered above). A report off the district's list (a case
    # sent, a proposal, a transfer): how long it waited there.
    off_list = answer.body.get("state") != "waiting" or done.kind == "transfer"
    metrics.disposed(done.kind, item.district, item.waiting_since if off_list else None, now)
    return answer


def act_of(
    kind: str,
    item: ItemRow,
    person: Person,
    reason: str | None,
    act_id: uuid.UUID | None = None,
    **details: Any,
) -> NewAct:
    """A new act of `person` on the item's report (details: codes and ids only)."""
    return NewAct(
        id=act_id or uuid.uuid4(),
        report_id=item.report_id,
        kind=kind,
        actor=person.subject,
        actor_role=person.acting_role,
        reason=reason,
        details=details,
    )


async def send_case(
    tx: DispositionTx, sent: Case, outcome: str, changes: Mapping[str, Any] | None = None
) -> None:
    """The case stored with its outbox row (after its act), and the work item done with
    `outcome`, its claim ended, priority and deadline the case's (and `changes`)."""
    await tx.add_case(sent)
    urgency = cases.urgency(sent.decision.priority, sent.decision.deadline)
    done = {**urgency, "state": "done", "outcome": outcome, **UNCLAIMED, **(changes or {})}
    await tx.update_item(sent.decision.report_id, done)


def claimed_attempt(
    kind: str, report_id: uuid.UUID, body: Any, claim: uuid.UUID, header: str | None
) -> Attempt:
    """The attempt of a disposition under a claim: keyed by the header, else by the claim."""
    return attempt(kind, report_id, body, header, f"{kind}:{claim}")


def _priority(value: str | None) -> Priority | None:
    if value is None:
        return None
    try:
        return Priority(value)
    except ValueError:
        levels = ", ".join(p.value for p in Priority)
        raise invalid_field("$.priority", f"{quoted(value)} is not a priority ({levels})") from None


def deadline_within(due_at: dt.datetime, received_at: dt.datetime | None) -> None:
    """A person's deadline (with its offset) lies after the report was received (when
    known) and no later than the last year a report's times may have (`LATEST_YEAR`, in
    UTC); 422 naming `$.deadline_at` otherwise."""
    try:
        year = due_at.astimezone(dt.UTC).year
    except OverflowError:
        year = LATEST_YEAR + 1
    if year > LATEST_YEAR:
        raise invalid_field(
            "$.deadline_at", f"a deadline lies no later than the year {LATEST_YEAR} (UTC)"
        )
    if received_at is not None and due_at <= received_at:
        raise invalid_field(
            "$.deadline_at",
            f"a deadline lies after the report was received ({received_at.isoformat()})",
        )


# --- route ----------------------------------------------------------------------------------


async def route_report(
    ctx: Context, person: Person, report_id: uuid.UUID, body: Route, raw: Any, header: str | None
) -> Answer:
    """Send the claimed report to a unit (the rules' suggestion when none is named), with
    the rules' priority and deadline unless overridden (an override needs a reason; a
    lower priority or a later deadline than the rules' is a downgrade, listed for review)."""
    reason = visible_reason(body.reason)
    ruleset = ctx.rules.ruleset
    level = _priority(body.priority)
    if body.deadline_at is not None and body.deadline_at.tzinfo is None:
        raise invalid_field("$.deadline_at", "a time with its offset (such as +01:00 or Z)")
    if body.deadline_at is not None:
        deadline_within(body.deadline_at, None)

    async def work(tx: DispositionTx, item: ItemRow, now: dt.datetime, record: Record) -> Answer:
        stored = await tx.report(report_id, item.version)
        if body.deadline_at is not None:
            deadline_within(body.deadline_at, stored.received_at)
        rules = decide(stored.report, report_id, ruleset, now)
        suggested = None if rules.unit == TRIAGE_UNIT else rules.unit
        if body.unit is None and suggested is None:
            raise invalid_field("$.unit", "the rules suggest no unit for this report: name one")
        unit = cases.known_unit(ctx.rules, body.unit or rules.unit, "$.unit")
        overridden = []
        if level is not None and level != rules.priority:
            overridden.append("priority")
        deadline = None
        rules_due = rules.deadline.due_at if rules.deadline else None
        if body.deadline_at is not None and body.deadline_at != rules_due:
            overridden.append("deadline")
            deadline = cases.person_deadline(body.deadline_at, rules.deadline)
        if overridden and reason is None:
            verb = "differs" if len(overridden) == 1 else "differ"
            raise needs_reason(f"the {' and '.join(overridden)} {verb} from the rules'")
        why = []
        if level is not None and level.rank < rules.priority.rank:
            why.append(f"lowers the priority from {rules.priority.value} to {level.value}")
        if deadline is not None and rules_due is not None and deadline.due_at > rules_due:
            why.append(f"sets the deadline later than the rules' ({rules_due.isoformat()})")
        act_id = uuid.uuid4()
        sent = cases.case(
            ruleset,
            rules,
            unit=unit,
            person=person,
            act="routed",
            act_id=act_id,
            version=item.version,
            source_format=stored.source_format,
            now=now,
            reason=reason,
            priority=level,
            deadline=deadline,
        )
        summary = cases.case_summary(sent)
        act = act_of(
            "routed",
            item,
            person,
            reason,
            act_id=act_id,
            unit=unit,
            priority=summary["priority"],
            deadline_at=summary["deadline_at"],
            overridden=overridden,
            suggested_unit=suggested,
            downgrade=bool(why),
        )
        answer = Answer(
            200,
            {
                "act_id": str(act_id),
                "report_id": str(report_id),
                "state": "done",
                "outcome": "routed",
                "downgrade": why,
                "suggested_unit": suggested,
                "case": summary,
            },
        )
        await record(act, answer)
        await send_case(tx, sent, "routed")
        return answer

    done = claimed_attempt("route", report_id, raw, body.claim, header)
    return await run(ctx, person, report_id, body.claim, done, work)
