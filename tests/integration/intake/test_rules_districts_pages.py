"""The work list page filtered by a district's name rather than its slug (a hand-written
address: the page's own choices are slugs), for a person signed in through the real OIDC
test provider: the page says which slug is meant, with the status of the refusal."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.integration.intake.triage_support import pages
from tests.support import signin

__all__ = ["pages"]  # fixture


def alert(page: str) -> str:
    found = re.search(r'role="alert"[^>]*>(.*?)</div>', page, re.S)
    assert found, "no alert on the page"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


@pytest.mark.parametrize("who", ["anne", "nina"])
async def test_the_work_list_page_filtered_by_a_name_names_the_slug(
    pages: AsyncTestClient[Any], who: str
) -> None:
    signed = await signin.sign_in(pages, "triage", who)
    assert signed.status_code == 303, signed.text
    page = await pages.get("/triage?district=Oslo", follow_redirects=False)
    assert page.status_code == 422, page.text
    said = alert(page.text).replace("&#39;", "'")
    assert "'Oslo' is not a police district's slug; did you mean oslo" in said, said
    listed = await pages.get("/triage?district=oslo", follow_redirects=False)
    assert listed.status_code == 200, listed.text
