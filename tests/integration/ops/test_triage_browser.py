"""The triage pages in a real browser (Debian's chromium, driven by Playwright) with the
intake and the router as real processes and the local OIDC test provider: whole flows by
keyboard alone, from the provider's login form to a case in a unit's queue, four eyes on a
closure, a rejection back on the list; axe-core on every page (no serious or critical
violation), the pages at 200% zoom; screenshots at 1280×800 into docs/images."""

from __future__ import annotations

import uuid
from typing import Any

import aio_pika
import httpx
from playwright.async_api import Browser, Page, ViewportSize

from services.common.topology import Topology
from services.intake.triage import page_views
from tests.integration.conftest import unique
from tests.integration.ops.browser import (
    Running,
    axe,
    browser,
    provider_login,
    running,
)
from tests.integration.stack import ROOT, first_row
from tests.support.clients import auth

__all__ = ["browser", "running"]  # fixtures

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
# 1280 CSS pixels at 200% zoom: the page gets half the width and height.
ZOOMED: ViewportSize = {"width": 640, "height": 400}
IMAGES = ROOT / "docs" / "images"


async def unknown_municipality(running: Running, offence: str = "strl-321") -> str:
    """A report with a municipality no one knows (9999), accepted: the rules send it to
    triage, where it waits for a person to place it (the router puts it on the list)."""
    body = {
        "source": "alpha-src",
        "external_id": unique(),
        "reported_at": "2026-11-26T22:05:00Z",
        "incident": {
            "occurred_from": "2026-11-26T21:40:00+01:00",
            "municipality": "9999",
            "description": "Sykkel stjålet fra bakgården.",
        },
        "offences": [{"code": offence}],
        "persons": [{"role": "victim"}],
    }
    async with httpx.AsyncClient(base_url=running.url) as client:
        answer = await client.post("/v1/reports", json=body, headers=auth("alpha"))
    assert answer.status_code == 202, answer.text
    report_id: str = answer.json()["report_id"]
    await until(running, "SELECT 1 FROM work_items WHERE report_id = $1", report_id)
    return report_id


async def until(running: Running, sql: str, *args: Any, within: float = 30) -> Any:
    """The first value of `sql` once it has one (the router and relay work meanwhile)."""
    return (await first_row(running.database_url, sql, *args, within=within))[0]


async def tab_to(page: Page, selector: str, presses: int = 150) -> None:
    """Press Tab until the element `selector` has the focus (it must be reachable by the
    keyboard), and check the focus is visible (an outline)."""
    for _ in range(presses):
        if await page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            outline = await page.evaluate(
                "() => getComputedStyle(document.activeElement).outlineStyle"
            )
            assert outline not in ("none", ""), f"no visible focus on {selector}"
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"{selector} is not reachable by Tab")


async def press(page: Page, selector: str) -> None:
    """Reach `selector` by Tab and press Enter on it (a link or a form's button: the page
    it leads to is loaded)."""
    await tab_to(page, selector)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def type_into(page: Page, selector: str, text: str) -> None:
    await tab_to(page, selector)
    await page.keyboard.type(text)


async def person_page(browser: Browser, running: Running, username: str) -> Page:
    """A browser of its own for `username`, signed in on /triage through the provider."""
    context = await browser.new_context(viewport=LAPTOP)
    page = await context.new_page()
    await page.goto(f"{running.url}/triage")
    await provider_login(page, username)
    await page.wait_for_url(f"{running.url}/triage")
    return page


async def no_serious_violations(page: Page, name: str) -> None:
    found = await axe(page, f"triage-{name}")
    assert found == [], found


async def reflows(page: Page) -> None:
    """At 200% zoom the page needs no sideways scrolling (its tables scroll in regions)."""
    await page.set_viewport_size(ZOOMED)
    wide = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    await page.set_viewport_size(LAPTOP)
    assert wide <= 1, f"{wide} px wider than the window at 200% zoom"


async def in_unit_queue(running: Running, unit: str, act_id: str) -> bool:
    """Whether the unit's queue holds a case under the act's id (left in the queue)."""
    connection = await aio_pika.connect(running.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(Topology(running.prefix).unit_queue(unit).name)
        seen = []
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            seen.append(message.message_id)
            await message.nack(requeue=True)
            if len(seen) > 50:
                break
        return act_id in seen
    finally:
        await connection.close()


async def test_an_assessor_corrects_a_report_by_keyboard_and_the_rules_route_it(
    running: Running, browser: Browser
) -> None:
    report_id = await unknown_municipality(running)
    # Others on the list beside it, for the picture of the list.
    for offence in ("strl-271", "strl-351"):
        await unknown_municipality(running, offence)
    anne = await person_page(browser, running, "anne")
    # The skip link comes first and moves the focus to the content.
    await anne.keyboard.press("Tab")
    assert await anne.evaluate("() => document.activeElement.className") == "skip"
    await anne.keyboard.press("Enter")
    assert await anne.evaluate("() => document.activeElement.id") == "main"
    reason = await until(running, "SELECT reason FROM work_items WHERE report_id = $1", report_id)
    row = anne.locator(f'tr[data-report="{report_id}"]')
    assert page_views.REASON_WORDS[reason] in await row.inner_text()
    await no_serious_violations(anne, "list")
    await tab_to(anne, f'a[href="/triage/{report_id}"]')
    await reflows(anne)
    IMAGES.mkdir(parents=True, exist_ok=True)
    await anne.screenshot(path=str(IMAGES / "triage-list.png"))

    await press(anne, f'a[href="/triage/{report_id}"]')
    assert anne.url.endswith(f"/triage/{report_id}")
    await press(anne, "#claim-button")
    assert "You hold the claim" in await anne.inner_text("#done")
    await type_into(anne, "#correct-municipality", "0301")
    await press(anne, "#preview-correction")
    preview = await anne.inner_text("#preview")
    assert "nothing is stored yet" in preview
    assert "Oslo" in preview
    await no_serious_violations(anne, "report")
    await reflows(anne)
    await anne.screenshot(path=str(IMAGES / "triage-report.png"))
    await press(anne, "#confirm-correction")
    assert "Sent to the unit." in await anne.inner_text("#done")

    act_id = str(
        await until(running, "SELECT id FROM person_decisions WHERE report_id = $1", report_id)
    )
    unit = await until(
        running,
        "SELECT unit FROM person_case_deliveries WHERE report_id = $1 AND decision_id = $2",
        report_id,
        uuid.UUID(act_id),
    )
    assert unit.startswith("oslo.")
    assert await in_unit_queue(running, unit, act_id)
    await anne.reload()
    assert await anne.locator('#history tr[data-event="delivered"]').count() == 1


async def test_four_eyes_on_closures_by_keyboard(running: Running, browser: Browser) -> None:
    own, rejected = await unknown_municipality(running), await unknown_municipality(running)
    pia = await person_page(browser, running, "pia")
    for report_id, reason in ((own, "Sykkelen var lånt bort."), (rejected, "Ingen anmelder.")):
        await pia.goto(f"{running.url}/triage/{report_id}")
        await press(pia, "#claim-button")
        await tab_to(pia, "#close-ground")
        await pia.keyboard.type("No criminal")  # a select takes the option typed
        await type_into(pia, "#close-reason", reason)
        await press(pia, "#close-button")
        assert "Closure proposed" in await pia.inner_text("#done")

    await pia.goto(f"{running.url}/triage/reviews")
    await no_serious_violations(pia, "reviews")
    await reflows(pia)
    await pia.screenshot(path=str(IMAGES / "triage-reviews.png"))
    # Her own proposal: the approval is refused on the page, announced.
    await press(pia, f'article[data-report="{own}"] form[action$="/approve"] button')
    refusal = pia.locator('[role="alert"]')
    assert "another prosecutor must decide" in await refusal.inner_text()
    await no_serious_violations(pia, "refused")

    paal = await person_page(browser, running, "paal")
    await paal.goto(f"{running.url}/triage/reviews")
    await press(paal, f'article[data-report="{own}"] form[action$="/approve"] button')
    assert "Proposal approved." in await paal.inner_text("#done")
    await type_into(paal, f'article[data-report="{rejected}"] textarea[id^="reject-"]', "Anmeld.")
    await press(paal, f'article[data-report="{rejected}"] form[action$="/reject"] button')
    assert "back on the work list" in await paal.inner_text("#done")

    anne = await person_page(browser, running, "anne")
    row = anne.locator(f'tr[data-report="{rejected}"]')
    assert "a closure was rejected (no-offence)" in await row.inner_text()
    assert await anne.locator(f'tr[data-report="{own}"]').count() == 0
    await anne.goto(f"{running.url}/triage/{rejected}")
    assert "Anmeld." in await anne.inner_text("#history")
    await press(anne, "form[action='/triage/logout'] button")
    assert anne.url.endswith("/triage/signed-out")
    await no_serious_violations(anne, "signed-out")
