"""The correction of a claimed report as a use case: the new version standardised and
decided again by the rules, shown first (a preview stores nothing), then stored with its act
and, when the rules now name a unit, sent there as the person's case."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec

from schemas.decision import TRIAGE_UNIT, Priority
from services.common.rules.engine import decide
from services.intake.people import Person
from services.intake.triage import cases
from services.intake.triage.acts import Answer, NewAct
from services.intake.triage.corrections import CorrectionProblems, correct, downgrades
from services.intake.triage.disposition_model import (
    Correct,
    DispositionTx,
    needs_reason,
    visible_reason,
)
from services.intake.triage.dispositions import (
    Context,
    Record,
    act_of,
    claimed_attempt,
    run,
    send_case,
)
from services.intake.triage.model import ItemRow, Refusal


async def correct_report(
    ctx: Context,
    person: Person,
    report_id: uuid.UUID,
    body: Correct,
    raw: Any,
    header: str | None,
    preview: bool = False,
) -> Answer:
    """Correct the claimed report: a new version, standardised and decided again. A unit
    decided: the case goes there (act `corrected`, outcome `routed`); triage again: it waits,
    still claimed, with the new reason. A downgrade needs a reason (422) and is listed for
    review. `preview`: the same answer, nothing stored (`stored: false`)."""
    reason = visible_reason(body.reason)
    ruleset = ctx.rules.ruleset

    async def work(tx: DispositionTx, item: ItemRow, now: dt.datetime, record: Record) -> Answer:
        stored = await tx.report(report_id, item.version)
        try:
            fixed = correct(
                stored.report, body.changes, ruleset.reference, stored.received_at, ctx.options
            )
        except CorrectionProblems as exc:
            raise Refusal(
                422,
                "invalid-correction",
                "The correction cannot be made",
                f"{len(exc.problems)} problem(s) in the changes",
                errors=[msgspec.to_builtins(p) for p in exc.problems],
            ) from None
        decision = decide(fixed.report, report_id, ruleset, now)
        remaining = [o.code for o in fixed.report.offences]
        why = downgrades(
            Priority(item.priority),
            decision.priority,
            fixed.replaced_offences,
            remaining,
            ruleset.reference,
        )
        version = item.version + 1
        act = act_of(
            "corrected",
            item,
            person,
            reason,
            fields=list(fixed.fields),
            version=version,
            unit=decision.unit,
            priority=decision.priority.value,
            downgrade=bool(why),
            replaced_offences=list(fixed.replaced_offences),
        )
        to_unit = decision.unit != TRIAGE_UNIT
        sent = None
        if to_unit:
            sent = cases.case(
                ruleset,
                decision,
                unit=decision.unit,
                person=person,
                act="corrected",
                act_id=act.id,
                version=version,
                source_format=stored.source_format,
                now=now,
                reason=reason,
            )
        answer = Answer(
            200,
            {
                "act_id": None if preview else str(act.id),
                "report_id": str(report_id),
                "stored": not preview,
                "version": version,
                "fields": list(fixed.fields),
                "downgrade": why,
                "state": "done" if to_unit else "waiting",
                "outcome": "routed" if to_unit else None,
                "decision": msgspec.to_builtins(decision),
                "case": cases.case_summary(sent) if sent else None,
                "quality_issues": msgspec.to_builtins(fixed.report.quality_issues),
            },
        )
        if preview:
            # The report itself only in a preview: the answer kept for a retry holds no
            # personal data (the version is kept in report_versions). A preview's case has
            # no id yet: the act that would make it is not made (a stored correction has
            # an id of its own), so none is shown.
            summary = {**answer.body["case"], "decision_id": None} if sent else None
            shown = {**answer.body, "case": summary, "report": msgspec.to_builtins(fixed.report)}
            return Answer(200, shown)
        if why and reason is None:
            raise needs_reason(f"the correction is a downgrade ({'; '.join(why)})")
        await record(act, answer)
        await tx.add_version(report_id, version, fixed.report, act.id)
        if sent is not None:
            await send_case(tx, sent, "routed", {"version": version})
        else:
            waits = cases.waiting_reason(ruleset, decision, bool(fixed.report.quality_issues))
            await tx.update_item(report_id, {"version": version, **waits})
        return answer

    if preview:
        now = ctx.clock()
        async with ctx.store.transaction() as tx:
            item = await tx.lock_claimed(report_id, person, body.claim, now)

            async def nothing(act: NewAct, answer: Answer) -> None:
                return None

            return await work(tx, item, now, nothing)
    done = claimed_attempt("correct", report_id, raw, body.claim, header)
    return await run(ctx, person, report_id, body.claim, done, work)
