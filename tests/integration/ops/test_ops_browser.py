"""The operations page in a real browser (Debian's chromium, driven by Playwright), with the
intake and the router as real processes: what it shows, axe-core at a desktop and a phone
width, updates in place (no reload, focus and a scrolled table kept, pausable), and the
plain page without JavaScript. Screenshots and axe's findings are kept in `artifacts/`."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
from playwright.async_api import Browser, Page, ViewportSize

from tests.integration.ops.browser import (
    ARTIFACTS,
    NODE_MODULES,
    Running,
    axe,
    browser,
    running,
    sign_in,
)
from tests.integration.stack import ROOT, example, wait_routed
from tests.support.clients import auth

__all__ = ["browser", "running"]  # fixtures

DESKTOP: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}


async def rows(page: Page) -> dict[str, dict[str, str]]:
    """The unit table as the browser renders it: unit -> column -> text."""
    found: dict[str, dict[str, str]] = await page.eval_on_selector_all(
        "tr[data-unit]",
        """rows => Object.fromEntries(rows.map(r => [r.dataset.unit, Object.fromEntries(
            [...r.querySelectorAll('td[data-col]')]
                .map(c => [c.dataset.col, c.innerText.trim()]))]))""",
    )
    return found


async def generated(page: Page) -> str:
    return str(await page.get_attribute("#main", "data-generated"))


async def next_update(page: Page, after: str | None = None, within: float = 20) -> str:
    """Wait until the page has updated itself past `after` (default: what it shows now)."""
    seen = after if after is not None else await generated(page)
    for _ in range(int(within * 10)):
        now = await generated(page)
        if now != seen:
            return now
        await asyncio.sleep(0.1)
    raise AssertionError(f"the page did not update itself within {within} s")


async def post_examples(running: Running) -> list[str]:
    ids = []
    async with httpx.AsyncClient(base_url=running.url) as client:
        for name in ("bicycle-theft", "domestic-violence", "youth-robbery"):
            answer = await client.post("/v1/reports", json=example(name), headers=auth("alpha"))
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["report_id"])
    await wait_routed(running.database_url, len(ids))
    return ids


async def until_shown(page: Page, report_ids: list[str]) -> None:
    """Wait for the page to show the reports by updating itself (never reloaded here)."""
    for _ in range(60):
        latest = await page.eval_on_selector_all(
            "#latest tr[data-report]", "rows => rows.map(r => r.dataset.report)"
        )
        if set(report_ids) <= set(latest):
            return
        await asyncio.sleep(0.5)
    raise AssertionError("the routed reports did not appear on the page")


def track_navigation(page: Page) -> list[str]:
    """URLs the main frame navigates to from now on (an update must add none)."""
    navigations: list[str] = []
    page.on(
        "framenavigated",
        lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
    )
    return navigations


def track_csp(page: Page) -> list[str]:
    """Console reports of anything the Content-Security-Policy refused."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return refused


async def test_the_page_shows_where_each_report_went_and_the_broker_outage(
    running: Running, browser: Browser
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    conn = await asyncpg.connect(running.database_url)
    page = await browser.new_page(viewport={"width": 1600, "height": 1000})
    refused = track_csp(page)
    await sign_in(page, running.url)
    navigations = track_navigation(page)
    ids = await post_examples(running)
    units = await conn.fetch("SELECT unit FROM decisions")
    await conn.close()
    await until_shown(page, ids)
    await page.screenshot(path=str(ARTIFACTS / "ops.png"), full_page=True)
    table = await rows(page)
    assert len(table) == 96
    for row in units:
        shown = table[row["unit"]]
        # Nothing consumes the unit queues here: each routed case waits in its queue.
        expected = sum(r["unit"] == row["unit"] for r in units)
        assert shown["ready"] == str(expected), (row["unit"], shown)
        assert shown["routed"] == str(expected), (row["unit"], shown)
        assert shown["consumers"] == "0"
    assert await page.inner_text("#broker-state") == "up"

    await running.proxy.cut()
    try:
        for _ in range(60):
            await asyncio.sleep(0.5)
            if await page.query_selector("#broker-down"):
                break
        else:
            raise AssertionError("no outage shown: " + running.intake.output[-3000:])
        banner = await page.inner_text("#broker-down")
        assert "RabbitMQ cannot be reached" in banner
        assert await page.inner_text("#broker-state") == "DOWN"
        # Announced politely (a status region), not by reloading the page.
        assert "RabbitMQ cannot be reached" in await page.inner_text("#announce")
        assert await page.get_attribute("#announce", "role") == "status"
        await page.screenshot(path=str(ARTIFACTS / "ops-broker-down.png"), full_page=True)
        table = await rows(page)
        assert {r["ready"] for r in table.values()} == {"–"}
        # What PostgreSQL knows is still shown.
        assert table[units[0]["unit"]]["routed"] != "0"
    finally:
        await running.proxy.restore()
    assert navigations == []
    assert refused == []


async def test_the_page_loads_with_no_failed_request_and_no_console_error(
    running: Running, browser: Browser
) -> None:
    """Every request the page makes succeeds (its icon among them: no /favicon.ico 404), and
    the console stays free of errors, through an update in place."""
    page = await browser.new_page(viewport=DESKTOP)
    failed: list[str] = []
    errors: list[str] = []
    # The intake's own requests; the identity provider's sign-in page is not ours (its
    # stylesheets come from a CDN this machine may not reach).
    ours = running.url

    def answered(r: Any) -> None:
        if r.status >= 400 and r.url.startswith(ours):
            failed.append(f"{r.status} {r.url}")

    page.on("response", answered)
    page.on(
        "requestfailed",
        lambda r: failed.append(f"failed {r.url}") if r.url.startswith(ours) else None,
    )
    page.on(
        "console",
        lambda m: (
            errors.append(m.text) if m.type == "error" and page.url.startswith(ours) else None
        ),
    )
    await sign_in(page, running.url)
    await next_update(page)
    assert failed == []
    # Chromium asks for /favicon.ico when the page declares no icon, and logs its 404 here.
    assert errors == []
    icon = await page.get_attribute("link[rel=icon]", "href", timeout=1000)
    assert icon is not None
    assert (await page.request.get(running.url + icon)).status == 200


async def test_axe_finds_nothing_serious_at_desktop_and_phone_width(
    running: Running, browser: Browser
) -> None:
    await post_examples(running)
    page = await browser.new_page(viewport=DESKTOP)
    refused = track_csp(page)
    await sign_in(page, running.url)
    assert await axe(page, "1440") == []
    await page.screenshot(path=str(ARTIFACTS / "ops-1440.png"), full_page=True)

    await page.set_viewport_size(PHONE)
    assert await axe(page, "390") == []
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a 390 px screen"
    # A district's deadline columns come first, on the screen without scrolling sideways.
    for header in ("Missed", "Due 24 h", "Nearest deadline"):
        box = await page.locator("#districts th", has_text=header).first.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= PHONE["width"], header
    await page.screenshot(path=str(ARTIFACTS / "ops-390.png"), full_page=True)
    # With the broker gone the page says so, and is as readable.
    await running.proxy.cut()
    try:
        await page.wait_for_selector("#broker-down", timeout=20_000)
        assert await axe(page, "390-broker-down") == []
    finally:
        await running.proxy.restore()
    assert refused == []


async def test_updates_keep_the_page_the_focus_and_a_table_scrolled_sideways(
    running: Running, browser: Browser
) -> None:
    page = await browser.new_page(viewport=PHONE)
    await sign_in(page, running.url)
    navigations = track_navigation(page)
    await page.evaluate("window.notReloaded = true")
    region = page.locator("#districts .scroll").nth(2)
    await region.focus()
    # Scrolled sideways with the keyboard (at 390 px the columns after the deadlines need it).
    for _ in range(3):
        await page.keyboard.press("ArrowRight")
    await asyncio.sleep(0.5)  # smooth scrolling
    scrolled = await region.evaluate("r => r.scrollLeft")
    assert scrolled > 0
    ids = await post_examples(running)
    await until_shown(page, ids)
    await next_update(page)
    assert navigations == []
    assert await page.evaluate("window.notReloaded") is True
    assert await region.evaluate("r => r.scrollLeft") == scrolled
    assert await region.evaluate("r => document.activeElement === r")
    # Every scrollable region is reachable by keyboard and named by its heading.
    regions = page.locator(".scroll")
    for index in range(await regions.count()):
        one = regions.nth(index)
        assert await one.get_attribute("tabindex") == "0"
        label = await one.get_attribute("aria-labelledby")
        assert label
        assert await page.locator(f"#{label}").inner_text()

    # Pause: no update for two intervals; resume: updates again at once.
    pause = page.locator("#pause")
    assert await pause.inner_text() == "Pause updates"
    await pause.click()
    assert await pause.inner_text() == "Resume updates"
    assert "paused" in await page.inner_text("#cadence")
    held = await generated(page)
    refresh = int(await page.get_attribute("body", "data-refresh") or "0")
    await asyncio.sleep(2 * refresh + 1)
    assert await generated(page) == held
    await pause.click()
    assert await pause.inner_text() == "Pause updates"
    await next_update(page, held, within=10)
    assert navigations == []

    # A session that ends (signed out elsewhere, expired) stops the updates and says so.
    await page.context.clear_cookies()
    for _ in range(int(refresh * 2.5 * 10)):
        if "session has ended" in await page.inner_text("#announce"):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the page did not say that the session ended")
    assert not await pause.is_visible()
    assert navigations == []


async def test_without_javascript_the_page_is_complete_and_never_reloads_itself(
    running: Running, browser: Browser
) -> None:
    context = await browser.new_context(java_script_enabled=False, viewport=PHONE)
    page = await context.new_page()
    await sign_in(page, running.url)
    assert len(await rows(page)) == 96
    assert await page.locator("meta[http-equiv]").count() == 0
    assert not await page.locator("#pause").is_visible()
    assert await page.locator("#reload").is_visible()
    assert "Reload the page" in await page.inner_text("#cadence")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    await context.close()


def test_the_served_morphdom_is_the_pinned_npm_package() -> None:
    vendored = ROOT / "services/intake/static/vendor/morphdom-2.7.8.min.js"
    installed = NODE_MODULES / "morphdom" / "dist" / "morphdom-umd.min.js"
    assert installed.is_file(), "morphdom is not installed: `make browser` runs npm ci"
    assert vendored.read_bytes() == installed.read_bytes()
