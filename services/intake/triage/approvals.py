"""The prosecutors' four eyes: the review list, approving or rejecting a proposal (a closure,
a transfer out of the police) that someone else made, and marking another person's
downgrade reviewed. Each in one transaction under the work item's row lock, so of two
approvals at once one wins and the other finds the proposal gone (409)."""

from __future__ import annotations

import uuid
from typing import Any

from services.intake import metrics
from services.intake.people import Person
from services.intake.triage.acts import Answer, attempt, keyed, replay
from services.intake.triage.disposition_model import (
    Decide,
    Reviews,
    needs_reason,
    visible_reason,
)
from services.intake.triage.dispositions import Context, act_of
from services.intake.triage.model import Refusal

# A proposal's act kind → (the act approving it, the one rejecting it, the outcome).
ANSWERS = {
    "closure_proposed": ("closure_approved", "closure_rejected", "closed"),
    "transferred": ("transfer_approved", "transfer_rejected", "transferred_out"),
}
# Acts that may be downgrades (details `downgrade: true`).
DOWNGRADING = ("corrected", "routed")


def not_proposed(state: str) -> Refusal:
    """409: nothing waits for approval (decided already, or never proposed)."""
    return Refusal(
        409,
        "not-proposed",
        "Nothing to approve",
        f"the report is {state}: no proposal waits for a prosecutor (decided already?)",
        state=state,
    )


def own(what: str) -> Refusal:
    """403: four eyes: a person does not approve or review their own act."""
    return Refusal(
        403,
        "four-eyes",
        "Not your own",
        f"you made this {what}; another prosecutor must decide on it",
    )


async def reviews(ctx: Context, person: Person) -> Reviews:
    """Proposals waiting and downgrades not reviewed, of the districts the person sees."""
    return await ctx.store.reviews(person)


async def decide_proposal(
    ctx: Context,
    person: Person,
    report_id: uuid.UUID,
    approve: bool,
    body: Decide,
    raw: Any,
    header: str | None,
) -> Answer:
    """Approve (the closure or transfer out takes effect: done, `closed` or
    `transferred_out`) or reject (with a reason: back on the work list, reason
    `closure_rejected` or `transfer_rejected`) the report's pending proposal. 403 for the
    proposer, 409 when no proposal waits; a retry under the same key (the header, else
    `<approve|reject>:<proposal act id>`) gets the first answer."""
    kind = "approve" if approve else "reject"
    reason = visible_reason(body.reason)
    if not approve and reason is None:
        raise needs_reason("a rejection sends the report back to the work list")
    async with ctx.store.transaction() as tx:
        item = await tx.lock_item(report_id, person)
        proposal = item.pending_act if item.state == "proposed" else None
        latest = proposal or await tx.latest_proposal(report_id)
        done = attempt(kind, report_id, raw, header, f"{kind}:{latest}")
        first = await tx.answer_of(person.subject, done.key)
        if first is not None:
            return replay(first, done)
        if proposal is None:
            raise not_proposed(item.state)
        proposed = await tx.act(proposal)
        assert proposed is not None  # work_items.pending_act references person_acts
        if proposed.actor == person.subject:
            raise own("proposal")
        approved, rejected, outcome = ANSWERS[proposed.kind]
        act = act_of(
            approved if approve else rejected, item, person, reason, proposal=str(proposal)
        )
        state = "done" if approve else "waiting"
        answer = Answer(
            200,
            {
                "act_id": str(act.id),
                "report_id": str(report_id),
                "proposal": str(proposal),
                "state": state,
                "outcome": outcome if approve else None,
            },
        )
        await tx.record(keyed(act, done, answer))
        if approve:
            changes: dict[str, Any] = {"state": "done", "outcome": outcome, "pending_act": None}
        else:
            changes = {
                "state": "waiting",
                "reason": rejected,
                # The ground a rejected closure was proposed on (a code, no free text).
                "detail": proposed.details.get("ground"),
                "waiting_since": ctx.clock(),
                "pending_act": None,
            }
        await tx.update_item(report_id, changes)
    metrics.disposed(kind)  # committed
    return answer


async def mark_reviewed(
    ctx: Context, person: Person, act_id: uuid.UUID, body: Decide, raw: Any, header: str | None
) -> Answer:
    """Mark another person's downgrade (a correction or route with `downgrade: true`)
    reviewed: 404 when the act is no downgrade, 403 for its author or another district,
    409 when reviewed already (by whom and when)."""
    reason = visible_reason(body.reason)
    async with ctx.store.transaction() as tx:
        act = await tx.act(act_id)
        if act is None or act.kind not in DOWNGRADING or act.details.get("downgrade") is not True:
            raise Refusal(
                404, "not-a-downgrade", "No such downgrade", f"act {act_id} is no downgrade"
            )
        item = await tx.lock_item(act.report_id, person)
        done = attempt(
            "reviewed",
            act.report_id,
            {"act": str(act_id), "body": raw},
            header,
            f"reviewed:{act_id}",
        )
        first = await tx.answer_of(person.subject, done.key)
        if first is not None:
            return replay(first, done)
        if act.actor == person.subject:
            raise own("downgrade")
        earlier = await tx.review_of(act_id)
        if earlier is not None:
            raise Refusal(
                409,
                "reviewed-already",
                "Reviewed already",
                f"reviewed by {earlier.actor} at {earlier.acted_at.isoformat()}",
                reviewed_by=earlier.actor,
                reviewed_at=earlier.acted_at.isoformat(),
            )
        review = act_of("downgrade_reviewed", item, person, reason, act=str(act_id))
        answer = Answer(
            200,
            {"act_id": str(review.id), "report_id": str(act.report_id), "reviewed": str(act_id)},
        )
        await tx.record(keyed(review, done, answer))
    metrics.disposed("reviewed")  # committed
    return answer
