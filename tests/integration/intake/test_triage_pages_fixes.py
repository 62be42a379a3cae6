"""The triage pages' fixes through the app (real PostgreSQL, the local OIDC test provider, no
browser): a correction of a person's fields stored from the page, a refused form shown again
as sent, no `None` on a page, overdue deadlines said in words, rules short only on the
offence kept apart, a too-large form answered as a page, and a sign-in returning only to a
path of its page."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import unquote

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.intake.page_signin import RETURN_COOKIE
from tests.integration.intake.triage_support import pages, waiting
from tests.support import signin

__all__ = ["pages"]  # fixture
COOKIE = "fsi_session"
OWN = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}


async def signed(client: AsyncTestClient[Any], username: str) -> AsyncTestClient[Any]:
    client.cookies.clear()
    answer = await signin.sign_in(client, "triage", username)
    assert answer.status_code == 303, answer.text
    return client


def field(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no field {name}"
    return found.group(1)


async def claimed(client: AsyncTestClient[Any], report_id: uuid.UUID) -> dict[str, str]:
    """The claim and key fields of the report's forms, once claimed by the client's person."""
    answer = await client.post(f"/triage/{report_id}/claim", headers=OWN, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    page = (await client.get(f"/triage/{report_id}")).text
    return {"claim": field(page, "claim"), "key": field(page, "key")}


async def test_a_persons_fields_are_corrected_from_the_page(
    pages: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(pages, owner, municipality="0301")
    await signed(pages, "anne")
    form = await claimed(pages, report_id)
    page = (await pages.get(f"/triage/{report_id}")).text
    for name in ("person_0_role", "person_0_birth_date", "person_0_national_id"):
        assert f'name="{name}"' in page
    change = {"person_0_role": "witness", "person_0_birth_date": "1990-05-17"}
    preview = await pages.post(
        f"/triage/{report_id}/correct",
        data={**form, **change, "step": "preview"},
        headers=OWN,
        follow_redirects=False,
    )
    assert preview.status_code == 200, preview.text
    assert "persons[0].role" in preview.text
    # The confirm form carries the changes on; the correction form shows them again.
    assert '<input type="hidden" name="person_0_birth_date" value="1990-05-17">' in preview.text
    assert 'value="witness" selected' in preview.text
    stored = await pages.post(
        f"/triage/{report_id}/correct",
        data={**form, **change, "step": "confirm"},
        headers=OWN,
        follow_redirects=False,
    )
    assert stored.status_code == 303, stored.text
    report = await owner.fetchval(
        "SELECT report FROM report_versions WHERE report_id = $1 AND version = 2", report_id
    )
    person = msgspec.json.decode(report.encode() if isinstance(report, str) else report)
    person = person["persons"][0]
    assert (person["role"], person["birth_date"]) == ("witness", "1990-05-17")


async def test_a_refused_form_comes_back_as_sent_and_marked(
    pages: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(pages, owner, municipality="0301")
    await signed(pages, "pia")
    form = await claimed(pages, report_id)
    sent = {"to": "authority", "authority": "Tolletaten", "organisation_number": "974761077"}
    refused = await pages.post(
        f"/triage/{report_id}/transfer",
        data={**form, **sent, "reason": "Toll."},
        headers=OWN,
        follow_redirects=False,
    )
    assert refused.status_code == 422
    page = refused.text
    assert 'id="transfer-authority-name"' in page
    assert 'value="Tolletaten"' in page
    assert 'value="974761077" aria-invalid="true"' in page
    assert 'aria-describedby="error-transfer-authority-orgnr"' in page
    assert '<a href="#transfer-authority-orgnr">Organisation number</a>' in page
    assert ">Toll.</textarea>" in page
    # The other transfer forms keep nothing of it.
    assert page.count(">Toll.</textarea>") == 1
    routed = await pages.post(
        f"/triage/{report_id}/route",
        data={
            **form,
            "unit": "oslo.vold-og-seksual",
            "deadline_at": "2026-12-24T09:00",
            "priority": "low",
        },
        headers=OWN,
        follow_redirects=False,
    )
    assert routed.status_code == 422
    assert 'value="2026-12-24T09:00"' in routed.text
    assert '<option value="oslo.vold-og-seksual" selected>' in routed.text
    assert '<option value="low" selected>' in routed.text


async def test_pages_show_no_none_and_overdue_in_words(
    pages: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(pages, owner)
    await owner.execute(
        "UPDATE work_items SET deadline_at = '2026-11-29 08:00+00' WHERE report_id = $1",
        report_id,
    )
    await signed(pages, "anne")
    form = await claimed(pages, report_id)
    # A release and a claim again: acts whose details hold empty values, in the history.
    await pages.post(f"/triage/{report_id}/release", headers=OWN)
    await claimed(pages, report_id)
    page = (await pages.get(f"/triage/{report_id}")).text
    assert "None" not in page
    assert "null" not in page
    history = re.search(r'<tr data-event="released">.*?</tr>', page, re.S)
    assert history is not None
    assert "lapsed: no" in history.group(0)  # not Python's False
    assert "29.11.2026 09:00 <strong>overdue</strong>" in page
    listed = (await pages.get("/triage")).text
    row = re.search(rf'data-report="{report_id}".*?</tr>', listed, re.S)
    assert row is not None
    assert "29.11.2026 09:00 <strong>overdue</strong>" in row.group(0)
    assert "None" not in listed
    assert form["claim"]


async def test_rules_short_only_on_the_offence_are_collapsed(
    pages: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    # A bicycle theft: rules of other offences (custody, violence) are short on the offence.
    report_id = await waiting(pages, owner, municipality="0301")
    await signed(pages, "anne")
    page = (await pages.get(f"/triage/{report_id}")).text
    shown = re.search(r'<ul id="explain">(.*?)</ul>', page, re.S)
    assert shown is not None
    assert "<code>offence</code>" not in shown.group(1)
    collapsed = re.search(r'<details id="explain-offence"><summary>(\d+) rules? one', page)
    assert collapsed is not None
    assert int(collapsed.group(1)) >= 1


async def test_a_too_large_form_is_answered_by_a_page(
    pages: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(pages, owner)
    await signed(pages, "pia")
    form = await claimed(pages, report_id)
    page = (await pages.get(f"/triage/{report_id}")).text
    assert page.count('maxlength="4000"') == page.count("<textarea")
    answer = await pages.post(
        f"/triage/{report_id}/close",
        data={**form, "ground": "no-offence", "reason": "x" * 50_000},
        headers=OWN,
        follow_redirects=False,
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "The form was too large" in answer.text
    assert f'href="/triage/{report_id}"' in answer.text
    state = await owner.fetchval("SELECT state FROM work_items WHERE report_id = $1", report_id)
    assert state == "waiting"


@pytest.mark.parametrize(
    ("asked", "kept"),
    [
        ("/triage/reviews", "/triage/reviews"),
        ("/triage?district=oslo", "/triage?district=oslo"),
        ("https://evil.example/x", None),
        ("//evil.example/triage", None),
        ("/ops", None),
    ],
)
async def test_a_sign_in_keeps_only_a_path_of_its_page(
    pages: AsyncTestClient[Any], asked: str, kept: str | None
) -> None:
    pages.cookies.clear()
    sent = await pages.get("/triage/reviews", follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/triage/login?next=/triage/reviews"
    start = await pages.get("/triage/login", params={"next": asked}, follow_redirects=False)
    assert start.status_code == 303
    cookie = start.cookies.get(RETURN_COOKIE)
    assert (unquote(cookie) if cookie else None) == kept
    callback = await signin.provider_code(start.headers["location"], "pia")
    answer = await pages.get(callback, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == (kept or "/triage")
