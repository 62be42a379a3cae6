"""What the triage pages share: their guard, how a page is rendered, a refusal shown, a form
too large answered as a page."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Template

from services.intake.ops_api import PAGE_HEADERS, asset
from services.intake.page_signin import (
    FORM_MAX_BYTES,
    PageForbidden,
    SignInRequired,
    page_person,
    sign_in,
    signed_person,
)
from services.intake.triage import (
    page_errors,
    page_views,
)
from services.intake.triage.model import Refusal

AnyRequest = Request[Any, Any, Any]


async def requires_triage_page(connection: Any, _: BaseRouteHandler) -> None:
    """Route guard: a person signed in to the pages with the `assessor` or `prosecutor`
    role (none: 303 to `/triage/login`; another role: a 403 page naming the roles)."""
    person = await page_person(connection, "triage")
    if not person.works_triage:
        raise PageForbidden("triage", "assessor or prosecutor")


def render(name: str, context: dict[str, Any], status: int = 200) -> Template:
    return Template(
        name,
        context={"asset": asset, "v": page_views, **context},
        status_code=status,
        headers=PAGE_HEADERS,
    )


def refused(refusal: Refusal, form: str | None = None) -> dict[str, Any]:
    shown = page_errors.shown(refusal, form)
    return {"error": shown.text, "errors": shown, "status": refusal.status}


def too_large(request: AnyRequest, _: Exception) -> Template:
    """A form larger than the pages take (a browser keeps to the fields' `maxlength`):
    answered as a page of the triage, saying what was too large, not as JSON."""
    where = request.url.path.rsplit("/", 1)[0]
    back = where if where.startswith("/triage/") and where != "/triage/reviews" else "/triage"
    return render(
        "triage_missing.html",
        {
            "person": signed_person(request),
            "heading": "The form was too large",
            "error": (
                f"Nothing was done: the pages take forms of at most {FORM_MAX_BYTES // 1024} KiB"
                f" and a reason of at most {page_views.REASON_MAX} characters."
            ),
            "back": "/triage/reviews" if "/reviews" in where else back,
        },
        413,
    )


# A page asked for without a session sends the browser to sign in; a form too large is
# answered by a page.
SIGN_IN: Any = {SignInRequired: sign_in, 413: too_large}
