"""The triage pages' fixes in a real browser (Chromium by Playwright, the intake and the router
as processes, the local OIDC test provider), by keyboard: no select sends a unit no one
chose, a refused form keeps what was typed with the focus on the refusal and its links to
the fields, the preview takes the focus, a sign-in returns to the page asked for, a person
without the role gets a page (not JSON) with a way out; axe-core finds nothing on the report
page, at any impact."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, Page

from tests.integration.ops.browser import Running, axe_source, browser, provider_login, running
from tests.integration.ops.test_triage_browser import (
    LAPTOP,
    person_page,
    press,
    tab_to,
    type_into,
    unknown_municipality,
    until,
)

__all__ = ["browser", "running"]  # fixtures


async def focused(page: Page) -> str:
    """The id of the element that has the focus."""
    found: str = await page.evaluate("() => document.activeElement?.id ?? ''")
    return found


async def every_violation(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of every impact (minor included) on the page as it is."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(axe_source())
    result = await page.evaluate("() => axe.run(document)")
    return [
        {"rule": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
    ]


async def test_the_route_form_sends_no_unit_no_one_chose_and_a_refusal_keeps_the_form(
    running: Running, browser: Browser
) -> None:
    # Municipality 9999 has no district: the rules suggest no unit for a bicycle theft there.
    report_id = await unknown_municipality(running)
    anne = await person_page(browser, running, "anne")
    await anne.goto(f"{running.url}/triage/{report_id}")
    await press(anne, "#claim-button")
    assert "No suggestion: choose a unit." in await anne.inner_text("#suggested")
    # The rules' decision placed it in no district, with no deadline: no `None` for them.
    history = await anne.inner_text("#history")
    assert "decided" in history
    assert "None" not in history
    unit = anne.locator("#route-unit")
    assert await unit.input_value() == ""
    assert await unit.get_attribute("required") is not None
    # Enter on the button: the browser asks for a unit, nothing is sent.
    await tab_to(anne, "#route-button")
    await anne.keyboard.press("Enter")
    await anne.wait_for_timeout(500)
    assert anne.url.endswith(f"/triage/{report_id}?done=claimed")
    assert await unit.evaluate("e => e.validity.valueMissing")
    state = await until(running, "SELECT state FROM work_items WHERE report_id = $1", report_id)
    assert state == "waiting"

    # A unit and a lower priority, no reason: refused (an override needs one), form kept.
    await tab_to(anne, "#route-unit")
    await anne.keyboard.type("Oslo")  # a select takes the option typed
    chosen = await unit.input_value()
    assert chosen.startswith("oslo.")
    await tab_to(anne, "#route-priority")
    await anne.keyboard.type("low")
    await press(anne, "#route-button")
    assert await focused(anne) == "error"
    banner = await anne.inner_text("#error")
    assert "check reason" in banner
    assert "$." not in banner  # the page's words, not the API's paths
    assert await unit.input_value() == chosen
    assert await anne.locator("#route-priority").input_value() == "low"
    reason = anne.locator("#route-reason")
    assert await reason.get_attribute("aria-invalid") == "true"
    assert await reason.get_attribute("aria-describedby") == "error-route-reason"
    assert await reason.get_attribute("maxlength") == "4000"
    # The refusal's link takes the focus to the field.
    await tab_to(anne, '#error a[href="#route-reason"]')
    await anne.keyboard.press("Enter")
    assert await focused(anne) == "route-reason"
    assert await every_violation(anne) == []

    # A preview takes the focus to itself.
    await type_into(anne, "#correct-municipality", "0301")
    await press(anne, "#preview-correction")
    assert await focused(anne) == "preview"
    assert await every_violation(anne) == []


async def test_a_sign_in_returns_to_the_page_asked_for(running: Running, browser: Browser) -> None:
    context = await browser.new_context(viewport=LAPTOP)
    pia = await context.new_page()
    await pia.goto(f"{running.url}/triage/reviews")
    await provider_login(pia, "pia")
    await pia.wait_for_url(f"{running.url}/triage/reviews")
    assert await pia.inner_text("h1") == "Reviews"
    # Another site as the place to return to is not followed.
    other = await (await browser.new_context(viewport=LAPTOP)).new_page()
    await other.goto(f"{running.url}/triage/login?next=//evil.example/triage")
    await provider_login(other, "anne")
    await other.wait_for_url(f"{running.url}/triage")


async def test_a_person_without_the_role_gets_a_page_naming_it(
    running: Running, browser: Browser
) -> None:
    context = await browser.new_context(viewport=LAPTOP)
    ola = await context.new_page()
    await ola.goto(f"{running.url}/ops")
    await provider_login(ola, "ola")
    await ola.wait_for_url(f"{running.url}/ops")
    answer = await ola.goto(f"{running.url}/triage")
    assert answer is not None
    assert answer.status == 403
    assert "text/html" in answer.headers["content-type"]
    assert "needs the assessor or prosecutor role" in await ola.inner_text('[role="alert"]')
    await press(ola, "#sign-out")
    assert ola.url.endswith("/triage/signed-out")

    anne = await person_page(browser, running, "anne")
    answer = await anne.goto(f"{running.url}/ops")
    assert answer is not None
    assert answer.status == 403
    assert "needs the operator role" in await anne.inner_text('[role="alert"]')
    assert await every_violation(anne) == []
