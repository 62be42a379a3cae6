"""The triage pages against the real PostgreSQL and the local OIDC test provider, through the
app without a browser: the work list of the signed-in person, a report's page with the
rules' view, claiming, a correction previewed then stored and routed by the rules, a
closure proposed and decided by another prosecutor, and every refusal shown on the page
with its status (never a 500), each form taking same-origin posts only."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.intake.app import create_app
from services.intake.settings import IntakeSettings, OpsSettings, TriageSettings
from tests.integration.intake.triage_support import waiting
from tests.support import signin

BASE = "http://127.0.0.1:8000"
COOKIE = "fsi_session"
OWN = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture
async def app(
    intake_settings: Callable[..., IntakeSettings], oidc_issuer: str
) -> AsyncIterator[AsyncTestClient[Any]]:
    # Pages of two reports, so a list of three has a next page.
    settings = msgspec.structs.replace(
        intake_settings(enabled=False),
        ops=OpsSettings(cookie_secure=False),
        triage=TriageSettings(page_size=2),
    )
    async with AsyncTestClient(create_app(settings, configure_logging=False), base_url=BASE) as c:
        yield c


class People:
    """Each development person's session cookie, signed in once through the provider."""

    def __init__(self, client: AsyncTestClient[Any]) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}

    async def be(self, username: str) -> AsyncTestClient[Any]:
        """The client, sending `username`'s session cookie."""
        if username not in self.cookies:
            self.client.cookies.clear()
            answer = await signin.sign_in(self.client, "triage", username)
            assert answer.status_code == 303, answer.text
            self.cookies[username] = self.client.cookies[COOKIE]
        self.client.cookies.clear()
        self.client.cookies.set(COOKIE, self.cookies[username], domain="127.0.0.1", path="/")
        return self.client

    async def post(self, username: str, path: str, **form: str) -> Any:
        client = await self.be(username)
        return await client.post(path, data=form, headers=OWN, follow_redirects=False)

    async def get(self, username: str, path: str) -> Any:
        return await (await self.be(username)).get(path, follow_redirects=False)


@pytest.fixture
async def people(app: AsyncTestClient[Any]) -> People:
    return People(app)


def hidden(page: str, name: str) -> str:
    """The value of the first hidden field `name` of a page."""
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no field {name}"
    return found.group(1)


def alert(page: str) -> str:
    found = re.search(r'role="alert"[^>]*>(.*?)</div>', page, re.S)
    assert found, "no alert on the page"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


async def test_a_correction_is_previewed_then_stored_and_routed_by_the_rules(
    people: People, app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner)
    listed = await people.get("anne", "/triage")
    assert listed.status_code == 200
    assert f'data-report="{report_id}"' in listed.text
    assert "it has quality issues" in listed.text
    # Which issues, by code: 9999 is no municipality in the 2024 numbering.
    row = re.search(rf'data-report="{report_id}".*?</tr>', listed.text, re.S)
    assert row is not None
    assert "Quality issues: <code>municipality.unknown</code></small>" in row.group(0)
    # Per sees Vest's list, not Oslo's report.
    assert f'data-report="{report_id}"' not in (await people.get("per", "/triage")).text
    assert (await people.get("per", f"/triage/{report_id}")).status_code == 403

    page = await people.get("anne", f"/triage/{report_id}")
    assert page.status_code == 200
    assert 'id="explain"' in page.text
    assert 'name="claim" value=' not in page.text  # no forms before the claim
    claimed = await people.post("anne", f"/triage/{report_id}/claim")
    assert claimed.status_code == 303
    assert claimed.headers["location"] == f"/triage/{report_id}?done=claimed"
    page = await people.get("anne", f"/triage/{report_id}")
    token = hidden(page.text, "claim")
    assert (
        await owner.fetchval("SELECT claim_token FROM work_items WHERE report_id = $1", report_id)
    ) == uuid.UUID(token)

    form = {"claim": token, "key": hidden(page.text, "key"), "municipality": "0301"}
    preview = await people.post("anne", f"/triage/{report_id}/correct", **form, step="preview")
    assert preview.status_code == 200, preview.text
    assert "Preview: nothing is stored yet" in preview.text
    assert "Oslo" in re.search(r'id="preview".*?</p>', preview.text, re.S).group(0)  # type: ignore[union-attr]
    assert await owner.fetchval("SELECT count(*) FROM report_versions") == 0

    confirm = {**form, "key": hidden(preview.text, "key"), "step": "confirm"}
    stored = await people.post("anne", f"/triage/{report_id}/correct", **confirm)
    assert stored.status_code == 303, stored.text
    assert stored.headers["location"] == f"/triage/{report_id}?done=routed"
    item = await owner.fetchrow("SELECT * FROM work_items WHERE report_id = $1", report_id)
    assert (item["state"], item["outcome"], item["version"]) == ("done", "routed", 2)
    decided = await owner.fetchrow(
        "SELECT unit, decided_by FROM person_decisions WHERE report_id = $1", report_id
    )
    assert decided["unit"].startswith("oslo.")
    assert decided["decided_by"] == "anne"
    assert (
        await owner.fetchval(
            "SELECT count(*) FROM outbox WHERE report_id = $1 AND decision_id IS NOT NULL",
            report_id,
        )
        == 1
    )
    after = await people.get("anne", f"/triage/{report_id}?done=routed")
    assert "Sent to the unit." in after.text
    assert 'data-event="corrected"' in after.text


async def test_refusals_are_shown_on_the_page_with_their_status(
    people: People, app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner)
    await people.post("pia", f"/triage/{report_id}/claim")
    taken = await people.post("anne", f"/triage/{report_id}/claim")
    assert taken.status_code == 409
    assert "claimed by pia until" in alert(taken.text)
    page = await people.get("pia", f"/triage/{report_id}")
    token, key = hidden(page.text, "claim"), hidden(page.text, "key")
    wrong = await people.post(
        "pia", f"/triage/{report_id}/route", claim=token, key=key, unit="oslo.nowhere"
    )
    assert wrong.status_code == 422
    assert "oslo.nowhere" in alert(wrong.text)
    no_reason = await people.post(
        "pia", f"/triage/{report_id}/transfer", claim=token, key=key, to="district", district="vest"
    )
    assert no_reason.status_code == 422
    assert "reason" in alert(no_reason.text)
    # Anne holds no claim: a form of hers with pia's token is refused.
    not_hers = await people.post(
        "anne", f"/triage/{report_id}/close", claim=token, ground="no-offence", reason="Lånt."
    )
    assert not_hers.status_code == 409
    assert "claimed by pia" in alert(not_hers.text)
    # A form posted from another site is refused before anything is done.
    client = await people.be("pia")
    forged = await client.post(
        f"/triage/{report_id}/release",
        headers={"Origin": "https://attacker.example"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert (
        await owner.fetchval("SELECT claimed_by FROM work_items WHERE report_id = $1", report_id)
        == "pia"
    )
    missing = await people.get("pia", f"/triage/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "not on the work list" in alert(missing.text)


async def test_a_closure_is_decided_by_another_prosecutor_and_a_rejection_sends_it_back(
    people: People, app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner)
    await people.post("pia", f"/triage/{report_id}/claim")
    page = await people.get("pia", f"/triage/{report_id}")
    proposed = await people.post(
        "pia",
        f"/triage/{report_id}/close",
        claim=hidden(page.text, "claim"),
        key=hidden(page.text, "key"),
        ground="no-offence",
        reason="Sykkelen var lånt bort.",
    )
    assert proposed.status_code == 303, proposed.text
    # An assessor has no review list.
    assert (await people.get("anne", "/triage/reviews")).status_code == 403
    reviews = await people.get("pia", "/triage/reviews")
    assert f'data-report="{report_id}"' in reviews.text
    assert "your own proposal" in reviews.text
    own = await people.post("pia", f"/triage/reviews/{report_id}/approve")
    assert own.status_code == 403
    assert "another prosecutor must decide" in alert(own.text)
    bare = await people.post("paal", f"/triage/reviews/{report_id}/reject")
    assert bare.status_code == 422
    rejected = await people.post(
        "paal", f"/triage/reviews/{report_id}/reject", reason="Eieren vil anmelde."
    )
    assert rejected.status_code == 303
    assert rejected.headers["location"] == "/triage/reviews?done=rejected"
    item = await owner.fetchrow("SELECT * FROM work_items WHERE report_id = $1", report_id)
    assert (item["state"], item["reason"], item["detail"]) == (
        "waiting",
        "closure_rejected",
        "no-offence",
    )
    listed = await people.get("anne", "/triage?reason=closure_rejected")
    assert f'data-report="{report_id}"' in listed.text
    assert "a closure was rejected (no-offence)" in listed.text
    page = await people.get("anne", f"/triage/{report_id}")
    assert "Eieren vil anmelde." in page.text  # the rejection's reason in the history


async def test_the_list_pages_by_its_cursor_and_filters_by_reason(
    people: People, app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    made = {await waiting(app, owner) for _ in range(3)}
    first = await people.get("anne", "/triage")
    shown = set(re.findall(r'<tr data-report="([^"]+)"', first.text))
    assert len(shown) == 2
    following = re.search(r'href="(/triage\?[^"]*cursor=[^"]+)">Next page', first.text)
    assert following, "no next page"
    second = await people.get("anne", following.group(1).replace("&amp;", "&"))
    rest = set(re.findall(r'<tr data-report="([^"]+)"', second.text))
    assert {uuid.UUID(r) for r in shown | rest} == made
    assert not shown & rest
    assert "Next page" not in second.text
    other = await people.get("anne", "/triage?reason=returned")
    assert re.findall(r'<tr data-report="([^"]+)"', other.text) == []
    wrong = await people.get("anne", "/triage?reason=bored")
    assert wrong.status_code == 422
    assert "unknown reason" in alert(wrong.text)


async def test_a_downgrade_is_reviewed_by_another_prosecutor_on_the_review_page(
    people: People, app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    await people.post("pia", f"/triage/{report_id}/claim")
    page = await people.get("pia", f"/triage/{report_id}")
    form = {"claim": hidden(page.text, "claim"), "key": hidden(page.text, "key")}
    lowered = await people.post("pia", f"/triage/{report_id}/route", **form, priority="low")
    assert lowered.status_code == 422
    assert "reason" in alert(lowered.text)
    routed = await people.post(
        "pia", f"/triage/{report_id}/route", **form, priority="low", reason="Gammel sak."
    )
    assert routed.status_code == 303, routed.text
    act_id = await owner.fetchval(
        "SELECT id FROM person_acts WHERE report_id = $1 AND kind = 'routed'", report_id
    )
    listed = await people.get("paal", "/triage/reviews")
    assert f"/triage/reviews/downgrades/{act_id}" in listed.text
    own = await people.post("pia", f"/triage/reviews/downgrades/{act_id}")
    assert own.status_code == 403
    assert "another prosecutor must decide" in alert(own.text)
    done = await people.post("paal", f"/triage/reviews/downgrades/{act_id}", reason="Greit.")
    assert done.status_code == 303
    assert done.headers["location"] == "/triage/reviews?done=reviewed"
    assert (
        f"/triage/reviews/downgrades/{act_id}"
        not in (await people.get("paal", "/triage/reviews")).text
    )
    assert (
        await owner.fetchval(
            "SELECT actor FROM person_acts WHERE kind = 'downgrade_reviewed' AND report_id = $1",
            report_id,
        )
        == "paal"
    )
