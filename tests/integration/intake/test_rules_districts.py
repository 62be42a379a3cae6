"""A report the rules routed, against the real PostgreSQL: its district is the rules' catalogue
name (`Oslo`), people's districts are slugs (`oslo`); the read, a link's "a report the person
may see", the history and the work list's filter all speak slugs. The router's rows are
written with SQL as the router writes them (migrations 0002, 0006)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from litestar.testing import AsyncTestClient

from tests.integration.intake.triage_support import (
    app,
    bearer,
    claim,
    report_body,
    waiting,
)
from tests.support.clients import auth
from tests.support.held_cases import decided_by_rules

__all__ = ["app"]  # fixture

ROOT = Path(__file__).parents[3]
PROBLEMS = "https://fsi-intake.politiet.example/problems/"
OSLO_UNIT = "oslo.felles-etterforskning"
# A police district before the 2016 reform (Hordaland politidistrikt): no catalogue has it.
FORMER_DISTRICT = "Hordaland"


def catalogue_districts() -> dict[str, str]:
    """District name → slug, as deploy/routing/units.yaml lists the twelve districts."""
    units = yaml.safe_load((ROOT / "deploy" / "routing" / "units.yaml").read_text("utf-8"))
    return {name: entry["slug"] for name, entry in units["districts"].items()}


async def routed_by_rules(
    app: AsyncTestClient[Any],
    owner: asyncpg.Connection,
    district: str,
    unit: str,
    *,
    confirmed: bool = True,
) -> uuid.UUID:
    """A report accepted over the API, then decided by the rules for `unit` of `district`
    (the catalogue's name, as the router stores it) and, when `confirmed`, confirmed by the
    unit's queue; its id."""
    answer = await app.post(
        "/v1/reports", json=report_body(municipality="0301"), headers=auth("alpha")
    )
    assert answer.status_code == 202, answer.text
    report_id = uuid.UUID(answer.json()["report_id"])
    now = dt.datetime.now(dt.UTC)
    await decided_by_rules(
        owner,
        report_id,
        unit,
        district=district,
        priority="normal",
        decided_at=now,
        confirmed_at=now if confirmed else None,
    )
    return report_id


async def reads(app: AsyncTestClient[Any], report_id: uuid.UUID) -> dict[str, int]:
    """The status of `GET /v1/reports/{id}` for each development person who reads reports."""
    return {
        who: (await app.get(f"/v1/reports/{report_id}", headers=bearer(who))).status_code
        for who in ("anne", "pia", "per", "nina")
    }


async def test_every_catalogue_name_becomes_its_slug_as_the_intake_reads(
    intake_database_url: str,
) -> None:
    districts = catalogue_districts()
    assert len(districts) == 12  # the police districts since 2020
    conn = await asyncpg.connect(intake_database_url)
    try:
        for name, slug in districts.items():
            assert await conn.fetchval("SELECT district_slug($1)", name) == slug, name
        assert await conn.fetchval("SELECT district_slug(NULL)") is None
    finally:
        await conn.close()


async def test_a_report_the_rules_routed_to_oslo_is_read_by_oslo_and_national_only(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await routed_by_rules(app, owner, "Oslo", OSLO_UNIT)
    assert await reads(app, report_id) == {"anne": 200, "pia": 200, "per": 404, "nina": 200}


async def test_the_history_names_the_rules_district_by_its_slug(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await routed_by_rules(app, owner, "Oslo", OSLO_UNIT)
    shown = (await app.get(f"/v1/reports/{report_id}", headers=bearer("nina"))).json()
    assert shown["status"] == "routed"
    # The case as the rules decided it names the district as the catalogue does ...
    assert shown["decision"]["district"] == "Oslo"
    # ... and the history, as people and their acts do (a transfer names `vest`).
    history = {event["event"]: event["details"] for event in shown["history"]}
    assert history["decided"]["district"] == catalogue_districts()["Oslo"]
    # A case the triage queue confirmed says its district too.
    triaged = await routed_by_rules(app, owner, "Sør-Øst", "triage")
    shown = (await app.get(f"/v1/reports/{triaged}", headers=bearer("nina"))).json()
    history = {event["event"]: event["details"] for event in shown["history"]}
    assert history["triaged"]["district"] == catalogue_districts()["Sør-Øst"]


async def test_a_report_of_a_district_no_catalogue_has_is_read_by_the_national_role_only(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await routed_by_rules(
        app, owner, FORMER_DISTRICT, "hordaland.felles-etterforskning", confirmed=False
    )
    assert await reads(app, report_id) == {"anne": 404, "pia": 404, "per": 404, "nina": 200}


async def test_a_link_reaches_a_report_the_rules_routed_to_the_persons_district_only(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    other = await routed_by_rules(app, owner, "Oslo", OSLO_UNIT)
    oslo = await waiting(app, owner, district="oslo", municipality="0301")
    token = await claim(app, "anne", oslo)
    link = {"claim": token, "report_id": str(other)}
    linked = await app.post(f"/v1/triage/{oslo}/link", json=link, headers=bearer("anne"))
    assert linked.status_code == 200, linked.text
    assert linked.json()["case"]["unit"] == OSLO_UNIT

    vest = await waiting(app, owner, district="vest")
    token = await claim(app, "per", vest)
    link = {"claim": token, "report_id": str(other)}
    refused = await app.post(f"/v1/triage/{vest}/link", json=link, headers=bearer("per"))
    assert refused.status_code == 404, refused.text
    assert refused.json()["type"] == PROBLEMS + "link-target-not-found"
    # Nothing was done: the report still waits, claimed by per.
    state = await owner.fetchval("SELECT state FROM work_items WHERE report_id = $1", vest)
    assert state == "waiting"


@pytest.mark.parametrize(("written", "meant"), [("Oslo", "oslo"), ("Sør-Øst", "sor-ost")])
@pytest.mark.parametrize("who", ["anne", "nina"])
async def test_a_work_list_filter_by_a_districts_name_is_answered_with_its_slug(
    app: AsyncTestClient[Any], written: str, meant: str, who: str
) -> None:
    answer = await app.get("/v1/triage", params={"district": written}, headers=bearer(who))
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["type"] == PROBLEMS + "invalid-query"
    assert [e["path"] for e in problem["errors"]] == ["district"]
    said, _, hints = problem["errors"][0]["message"].partition("; did you mean ")
    assert said == f"'{written}' is not a police district's slug"
    # The district's own slug comes first (others close in spelling may follow).
    assert hints.removesuffix("?").split(", ")[0] == meant
    # The slug itself is a filter: one's own district, or any for the national role.
    assert (
        await app.get("/v1/triage", params={"district": "oslo"}, headers=bearer(who))
    ).status_code == 200
