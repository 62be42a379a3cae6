"""A work list filter names a district by its slug, as people's districts and the list do:
a name (`Oslo`, `Sør-Øst`) or a misspelling is answered 422 with the nearest slugs before
anything is listed, a slug of another district stays 403."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
import yaml

from services.intake.people import Person, PersonRole
from services.intake.settings import TriageSettings
from services.intake.triage.model import PRIORITY_RANK, ItemRow, Refusal
from services.intake.triage.worklist import Worklist, unknown_district
from tests.unit.intake.triage.fakes import MemoryWorklistStore

ROOT = Path(__file__).parents[4]
T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
ANNE = Person("anne", frozenset({PersonRole.ASSESSOR}), frozenset({"oslo"}))
NINA = Person("nina", frozenset({PersonRole.PROSECUTOR}), national=True)


def catalogue() -> dict[str, str]:
    """District name → slug, as deploy/routing/units.yaml lists the twelve districts."""
    units = yaml.safe_load((ROOT / "deploy" / "routing" / "units.yaml").read_text("utf-8"))
    return {name: entry["slug"] for name, entry in units["districts"].items()}


SLUGS = tuple(catalogue().values())


def oslo_item() -> ItemRow:
    return ItemRow(
        report_id=uuid.uuid4(),
        district="oslo",
        source="citizen",
        reason="rule",
        detail="r-default",
        priority="normal",
        priority_rank=PRIORITY_RANK["normal"],
        deadline_at=None,
        received_at=T0,
        waiting_since=T0,
        version=1,
        state="waiting",
    )


def worklist() -> Worklist:
    store = MemoryWorklistStore([oslo_item()])
    return Worklist(store, TriageSettings(lease_minutes=15, page_size=50), lambda: T0)


@pytest.mark.parametrize("name", list(catalogue()))
def test_every_districts_name_is_answered_with_its_own_slug_first(name: str) -> None:
    refusal = unknown_district(name, SLUGS)
    assert (refusal.status, refusal.slug) == (422, "invalid-query")
    said, _, hints = refusal.detail.partition("; did you mean ")
    assert said == f"district: '{name}' is not a police district's slug"
    assert hints.removesuffix("?").split(", ")[0] == catalogue()[name]


def test_a_filter_near_no_slug_gets_no_hint() -> None:
    refusal = unknown_district("0301", SLUGS)
    assert refusal.extra["errors"] == [
        {"path": "district", "message": "'0301' is not a police district's slug"}
    ]


@pytest.mark.parametrize("person", [ANNE, NINA])
async def test_a_name_as_filter_is_refused_before_the_list_is_read(person: Person) -> None:
    with pytest.raises(Refusal) as refused:
        await worklist().page(person, districts=["Oslo"], known=SLUGS)
    assert refused.value.status == 422
    # The slug lists the report, for its district's assessor and the national role.
    page = await worklist().page(person, districts=["oslo"], known=SLUGS)
    assert [i.district for i in page.items] == ["oslo"]


async def test_another_districts_slug_is_still_not_ones_own() -> None:
    with pytest.raises(Refusal) as refused:
        await worklist().page(ANNE, districts=["vest"], known=SLUGS)
    assert (refused.value.status, refused.value.slug) == (403, "other-district")
