"""What the triage pages read: a report as it is now with its work item, the rules' view of
it (decision, explanation, suggested units), its history, and the catalogues the forms
offer (districts, units, closure grounds)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from services.intake import timeline
from services.intake.api import may_read
from services.intake.people import Person
from services.intake.records import Erasure
from services.intake.state import state_of
from services.intake.triage.disposition_api import context_of
from services.intake.triage.model import Refusal
from services.intake.triage.page_views import nearly
from services.intake.triage.worklist import not_on_list

Connection = Any


def units_of(request: Connection) -> dict[str, str]:
    """Every unit of the catalogue by id, named as people know it (`Oslo – Vold`,
    `Kripos`), district units in catalogue order, then the national ones."""
    catalogue = context_of(request).rules.ruleset.catalogue
    named = {
        district.unit(section): f"{district.name} – {catalogue.section_names[section]}"
        for district in catalogue.districts.values()
        for section in district.sections
    }
    named.update({unit.id: unit.name for unit in catalogue.national.values()})
    return named


def lists_of(request: Connection, person: Person) -> dict[str, Any]:
    """The choices of the forms: the districts the person sees (slug → name), the national
    units (id → name), the closure grounds."""
    ctx = context_of(request)
    catalogue = ctx.rules.ruleset.catalogue
    return {
        "districts": {
            d.slug: d.name
            for d in catalogue.districts.values()
            if person.national or d.slug in person.districts
        },
        "all_districts": {d.slug: d.name for d in catalogue.districts.values()},
        "national_units": {u.id: u.name for u in catalogue.national.values()},
        "grounds": ctx.grounds.grounds,
    }


def erased(report_id: uuid.UUID, erasure: Erasure) -> Refusal:
    """410: the report's personal data was erased after closure; when, and from when."""
    return Refusal(
        410,
        "erased",
        "Personal data erased",
        f"report {report_id}: its personal data was erased on "
        f"{erasure.erased_at.date().isoformat()} after its cases were closed (last on "
        f"{erasure.closed_at.date().isoformat()}, kept {erasure.kept_days} days)",
    )


async def report_data(request: Connection, person: Person, report_id: uuid.UUID) -> dict[str, Any]:
    """Everything the report page shows (`Refusal` 404 when the report is not on the work
    list, 403 when of another district, 410 when its personal data was erased). The work
    item is read under its row lock, briefly, in a transaction of its own: the use cases'
    one way to read it with the visibility rules applied."""
    ctx = context_of(request)
    row = await state_of(request).service.store.get_report(report_id)
    async with ctx.store.transaction() as tx:
        item = await tx.lock_item(report_id, person)
        if row is not None and row.erasure is not None:
            # Nothing left to show or act on but what the history and the API say.
            raise erased(report_id, row.erasure)
        stored = await tx.report(report_id, item.version)
    if row is None or not may_read(person, row):
        raise not_on_list(report_id)
    now = ctx.clock()
    report = stored.report
    decision = ctx.rules.decide(report, report_id, now)
    checks = ctx.rules.explain(report, now)
    near, near_offence = nearly(checks)
    mine = item.claimed_by == person.subject and item.lease_live(now)
    held_by = item.claimed_by if item.lease_live(now) else None
    return {
        "item": item,
        "report_id": report_id,
        "report": msgspec.to_builtins(report),
        "report_status": row.status,
        "decision": decision,
        "near": near,
        "near_offence": near_offence,
        "missed": len(checks) - len(near) - len(near_offence),
        "suggested": ctx.rules.suggested_units(report, now),
        "units": units_of(request),
        "history": timeline.assemble(row.history, full=True),
        "mine": mine,
        # The claim's token goes into the forms of its holder only.
        "claim": str(item.claim_token) if mine else None,
        "held_by": held_by,
        "key": str(uuid.uuid4()),
        "now": now,
        **lists_of(request, person),
    }
