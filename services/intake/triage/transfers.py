"""Dispositions that move a claimed report on without routing it by hand: transfer (to
another district's list, to a national unit, or a proposal to another authority), link to
another report's case, and the proposal of an early closure (henleggelse)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from schemas.decision import Decision
from services.common.identity import valid_orgnr
from services.common.rules.engine import decide
from services.common.text import quoted
from services.intake.people import Person
from services.intake.triage import cases
from services.intake.triage.acts import Answer
from services.intake.triage.disposition_model import (
    Close,
    DispositionTx,
    Link,
    StoredReport,
    Transfer,
    invalid_field,
    visible_reason,
)
from services.intake.triage.dispositions import (
    UNCLAIMED,
    Context,
    Record,
    act_of,
    claimed_attempt,
    run,
    send_case,
)
from services.intake.triage.model import ItemRow, Refusal


def _one_target(body: Transfer) -> str:
    to = body.to
    given = [k for k in ("district", "unit", "authority") if getattr(to, k) is not None]
    if len(given) != 1:
        raise invalid_field(
            "$.to", "name exactly one of `district`, `unit`, or `authority` (with its number)"
        )
    if given[0] != "authority" and to.organisation_number is not None:
        raise invalid_field("$.to.organisation_number", "only for a transfer to an authority")
    return given[0]


def _orgnr(written: str | None) -> str:
    if written is None:
        raise invalid_field("$.to.organisation_number", "required for a transfer to an authority")
    number = valid_orgnr(written)
    if number is None:
        raise invalid_field(
            "$.to.organisation_number",
            f"{quoted(written)} is not a valid organisasjonsnummer (9 digits, mod 11 check digit)",
        )
    return number


async def transfer_report(
    ctx: Context, person: Person, report_id: uuid.UUID, body: Transfer, raw: Any, header: str | None
) -> Answer:
    """Transfer the claimed report, with a reason: to another district's work list (it
    waits there, unclaimed, reason `transferred`), to a unit of the catalogue (a national
    unit: a case like a route, outcome `transferred_to_unit`), or to an authority outside
    the police (a proposal a prosecutor must approve: state `proposed`)."""
    reason = visible_reason(body.reason)
    if reason is None:
        raise invalid_field("$.reason", "a transfer needs a reason")
    target = _one_target(body)
    ruleset = ctx.rules.ruleset
    number = _orgnr(body.to.organisation_number) if target == "authority" else None

    async def work(tx: DispositionTx, item: ItemRow, now: dt.datetime, record: Record) -> Answer:
        base = {"act_id": "", "report_id": str(report_id)}
        if target == "district":
            slug = cases.district_of_slug(ruleset, body.to.district or "", "$.to.district")
            if slug == item.district:
                raise Refusal(
                    409,
                    "same-district",
                    "Already in that district",
                    f"the report is already on the work list of `{slug}`",
                )
            act = act_of("transferred", item, person, reason, to="district", district=slug)
            answer = Answer(
                200, {**base, "act_id": str(act.id), "state": "waiting", "district": slug}
            )
            await record(act, answer)
            await tx.update_item(
                report_id,
                {
                    "district": slug,
                    "reason": "transferred",
                    "detail": item.district,
                    "waiting_since": now,
                    **UNCLAIMED,
                },
            )
            return answer
        if target == "unit":
            unit = cases.known_unit(ctx.rules, body.to.unit or "", "$.to.unit")
            stored = await tx.report(report_id, item.version)
            act = act_of("transferred", item, person, reason, to="unit", unit=unit)
            sent = cases.case(
                ruleset,
                decide(stored.report, report_id, ruleset, now),
                unit=unit,
                person=person,
                act="transferred",
                act_id=act.id,
                version=item.version,
                source_format=stored.source_format,
                now=now,
                reason=reason,
            )
            summary = cases.case_summary(sent)
            answer = Answer(
                200,
                {
                    **base,
                    "act_id": str(act.id),
                    "state": "done",
                    "outcome": "transferred_to_unit",
                    "case": summary,
                },
            )
            await record(act, answer)
            await send_case(tx, sent, "transferred_to_unit")
            return answer
        act = act_of(
            "transferred",
            item,
            person,
            reason,
            to="authority",
            authority=body.to.authority,
            organisation_number=number,
        )
        answer = Answer(
            200, {**base, "act_id": str(act.id), "state": "proposed", "awaiting": "prosecutor"}
        )
        await record(act, answer)
        await tx.update_item(report_id, {"state": "proposed", "pending_act": act.id, **UNCLAIMED})
        return answer

    done = claimed_attempt("transfer", report_id, raw, body.claim, header)
    return await run(ctx, person, report_id, body.claim, done, work)


def no_such_report(other: uuid.UUID) -> Refusal:
    """404 naming `$.report_id`: no report of this id the person may see (one of another
    district is answered so too)."""
    message = "no report of this id that you may see"
    return Refusal(
        404,
        "link-target-not-found",
        "No such report",
        f"$.report_id: {message} ({other})",
        errors=[{"path": "$.report_id", "message": message}],
    )


async def link_report(
    ctx: Context, person: Person, report_id: uuid.UUID, body: Link, raw: Any, header: str | None
) -> Answer:
    """Link the claimed report to another about the same incident: it goes, as a linked
    case, to the unit the other's latest confirmed case went to (409 when the other has not
    reached a unit; 422 when it is this report; 404 when it is no report the person may
    see)."""
    reason = visible_reason(body.reason)
    other = body.report_id
    if other == report_id:
        raise invalid_field("$.report_id", "a report is not linked to itself")
    ruleset = ctx.rules.ruleset

    async def work(tx: DispositionTx, item: ItemRow, now: dt.datetime, record: Record) -> Answer:
        place = await tx.report_place(other)
        if place is None or not place.seen_by(person):
            # Another district's report is answered as one that does not exist: a link
            # must not tell whether it exists, nor where it went.
            raise no_such_report(other)
        unit = await tx.delivered_unit(other)
        if unit is None:
            raise Refusal(
                409,
                "link-target-not-routed",
                "The other report has not reached a unit",
                f"report {other} has no case a unit's queue confirmed yet; link it once it has",
                report_id=str(other),
            )
        stored: StoredReport = await tx.report(report_id, item.version)
        rules: Decision = decide(stored.report, report_id, ruleset, now)
        act = act_of("linked", item, person, reason, linked_to=str(other), unit=unit)
        sent = cases.case(
            ruleset,
            rules,
            unit=unit,
            person=person,
            act="linked",
            act_id=act.id,
            version=item.version,
            source_format=stored.source_format,
            now=now,
            reason=reason,
            linked_to=other,
        )
        answer = Answer(
            200,
            {
                "act_id": str(act.id),
                "report_id": str(report_id),
                "linked_to": str(other),
                "state": "done",
                "outcome": "linked",
                "case": cases.case_summary(sent),
            },
        )
        await record(act, answer)
        await send_case(tx, sent, "linked")
        return answer

    done = claimed_attempt("link", report_id, raw, body.claim, header)
    return await run(ctx, person, report_id, body.claim, done, work)


async def propose_closure(
    ctx: Context, person: Person, report_id: uuid.UUID, body: Close, raw: Any, header: str | None
) -> Answer:
    """Propose closing the claimed report early on a ground of the catalogue (its legal
    basis recorded), with a reason: state `proposed` until a prosecutor other than the
    proposer approves or rejects it; the claim ends."""
    reason = visible_reason(body.reason)
    if reason is None:
        raise invalid_field("$.reason", "a closure proposal needs a reason")
    ground = ctx.grounds.get(body.ground)
    if ground is None:
        close = ctx.grounds.nearest(body.ground)
        codes = ", ".join(g.code for g in ctx.grounds.grounds)
        hint = f"did you mean {', '.join(close)}?" if close else f"one of {codes}"
        raise invalid_field("$.ground", f"{quoted(body.ground)} is not a closure ground; {hint}")
    basis = ground.basis

    async def work(tx: DispositionTx, item: ItemRow, now: dt.datetime, record: Record) -> Answer:
        act = act_of("closure_proposed", item, person, reason, ground=body.ground, basis=basis)
        answer = Answer(
            200,
            {
                "act_id": str(act.id),
                "report_id": str(report_id),
                "state": "proposed",
                "ground": body.ground,
                "awaiting": "prosecutor",
            },
        )
        await record(act, answer)
        await tx.update_item(report_id, {"state": "proposed", "pending_act": act.id, **UNCLAIMED})
        return answer

    done = claimed_attempt("close", report_id, raw, body.claim, header)
    return await run(ctx, person, report_id, body.claim, done, work)
