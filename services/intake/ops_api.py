"""The operations page (`/ops`, HTML for people) and its data (`/v1/ops/overview`, JSON).

Both are for the operator role. Tools send an operator client's API key as a bearer token;
people sign in with the identity provider on `/ops/login` (`signin_api`) and get a session
cookie (`page_signin`) for the page, which ends at sign-out or after its absolute or idle
lifetime. The pages' style and script are files of this package (`static/`), served under
`/ops/static/`; their Content-Security-Policy allows no other source and no inline code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from litestar import Controller, Request, Response, route
from litestar.params import FromPath
from litestar.response import Template

from schemas.report import OSLO
from services.common.logging import get_logger
from services.intake.api import GET_AND_HEAD
from services.intake.guards import CLIENT, SIGN_IN, operator_of, requires_operator
from services.intake.ops_views import Overview, QueueState
from services.intake.page_signin import SignInRequired, sign_in
from services.intake.problems import problem
from services.intake.state import ops_page_of, state_of

log = get_logger("ops")
STATIC = Path(__file__).parent / "static"
# URL name -> (file, media type). morphdom updates the page in place (vendored from npm,
# pinned in package.json; its licence beside it). The page declares its icon, so browsers do
# not ask for a /favicon.ico that is not there. Litestar adds `; charset=utf-8` to a text/*
# type itself, so none is given here (it would be said twice).
_ASSET_FILES = {
    "ops.css": ("ops.css", "text/css"),
    "triage.css": ("triage.css", "text/css"),
    "ops.js": ("ops.js", "text/javascript"),
    "morphdom.min.js": ("vendor/morphdom-2.7.8.min.js", "text/javascript"),
    "favicon.svg": ("favicon.svg", "image/svg+xml"),
}
_ASSETS = {
    name: ((STATIC / file).read_bytes(), media) for name, (file, media) in _ASSET_FILES.items()
}
# Each URL carries its content's hash, so a cached copy is never a stale one.
_VERSIONS = {name: hashlib.sha256(body).hexdigest()[:12] for name, (body, _) in _ASSETS.items()}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The page shows operational data: never cached, never framed, never sniffed.
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def asset(name: str) -> str:
    """The URL of a static file of the page, with its content hash."""
    return f"/ops/static/{name}?v={_VERSIONS[name]}"


def _overview(request: Request[Any, Any, Any]) -> Overview:
    monitor = state_of(request).monitor
    if monitor is None or monitor.latest is None:
        raise problem(
            503,
            "overview-not-ready",
            "The overview is not ready",
            "the first reading of RabbitMQ and PostgreSQL has not finished; try again shortly",
            headers={"Retry-After": "2"},
        )
    return monitor.latest


class OpsController(Controller):
    """Where every report went, what is urgent, and whether anything is stuck."""

    tags = ("operations",)
    include_in_schema = True
    dependencies = CLIENT

    # The overview is for tools: a bearer key only (the session cookie is for /ops pages).
    @route(
        "/v1/ops/overview",
        http_method=GET_AND_HEAD,
        summary="The operations overview (operators)",
        guards=[requires_operator],
    )
    async def overview(self, request: Request[Any, Any, Any]) -> Overview:
        return _overview(request)

    @route(
        "/ops",
        http_method=GET_AND_HEAD,
        summary="The operations page (operators)",
        include_in_schema=False,
        guards=[requires_operator],
        opt={SIGN_IN: True},
        exception_handlers={SignInRequired: sign_in},
    )
    async def page(self, request: Request[Any, Any, Any]) -> Template:
        monitor = state_of(request).monitor
        overview = monitor.latest if monitor else None
        return Template(
            "ops.html",
            context={
                "o": overview,
                "operator": operator_of(request),
                "refresh": ops_page_of(request).refresh_seconds,
                "summary": summary(overview),
                "local": _local,
                "ago": _ago,
                "waited": waited,
                "percent": percent,
                "names": unit_names(overview),
                "asset": asset,
            },
            headers=PAGE_HEADERS,
        )

    @route("/ops/static/{name:str}", http_method=GET_AND_HEAD, include_in_schema=False)
    async def static(self, name: FromPath[str]) -> Response[bytes]:
        """The page's style and script (public: no data in them)."""
        found = _ASSETS.get(name)
        if found is None:
            raise problem(404, "not-found", "Not found", "no such file of the operations page")
        body, media = found
        return Response(
            body,
            media_type=media,
            headers={
                "Cache-Control": "public, max-age=31536000, immutable",
                "X-Content-Type-Options": "nosniff",
            },
        )


def summary(overview: Overview | None) -> str:
    """One sentence of what an operator must know (the page announces it when it changes):
    the services' state and the totals of the tiles, or that nothing is read yet."""
    if overview is None:
        return "No figures yet."

    def count(value: int | None) -> str:
        return "unknown" if value is None else str(value)

    def depth(queue: QueueState | None) -> str:
        if queue is not None and queue.missing:
            return "queue missing"
        return count(queue.ready if queue else None)

    def state(up: bool) -> str:
        return "up" if up else "cannot be reached"

    o = overview
    blocked = {
        "mismatch": " Reports cannot be published: RabbitMQ's topology differs from ours.",
        "down": " Reports cannot be published: the outbox relay cannot use RabbitMQ.",
    }
    return (
        f"RabbitMQ {state(o.broker.up)}, PostgreSQL {state(o.database.up)}."
        + blocked.get(o.relay.state, "")
        + _deadline_summary(o)
        + f" Waiting in triage: {_worklist_summary(o)}; "
        f"dead letters: {depth(o.dead_letter)}; "
        f"in the outbox: {count(o.outbox.pending if o.outbox else None)}."
        + (
            " The triage queue is missing: cases the rules send to triage wait for it before "
            "they reach the work list."
            if o.triage is not None and o.triage.missing
            else ""
        )
        + (f" Waiting for a missing queue: {o.waiting}." if o.waiting else "")
    )


def _deadline_summary(o: Overview) -> str:
    """The units' deadlines in words: missed (custody first), due within 24 h, not received."""
    t = o.deadline_totals
    if t is None:
        return " Deadlines: unknown."
    custody = t.missed_by_moment.get("arrest", 0)
    return (
        f" Deadlines missed: {t.missed}"
        + (f", {custody} of them custody" if custody else "")
        + f"; due within 24 h: {t.due_within_24h}. "
        f"Cases not received by their unit: {t.not_received}."
    )


def unit_names(overview: Overview | None) -> dict[str, str]:
    """Each catalogue unit's name with its district's, by its id (`Oslo · Seksjon for vold`:
    every district has the same sections, so the section alone does not say which; a unit
    named as its district, once). A unit not in a district's list (no longer in the
    catalogue, or a national unit) has none: the page shows its id."""
    if overview is None:
        return {}
    return {
        u.unit: u.name if u.name == d.name else f"{d.name} · {u.name}"
        for d in overview.districts
        for u in d.units
    }


def percent(share: float | None) -> str:
    """A share (0..1) as a whole percentage (`92 %`), or a dash when there is none."""
    return "–" if share is None else f"{share * 100:.0f} %"


def _worklist_summary(o: Overview) -> str:
    """What waits for people: the work list in PostgreSQL, never the triage queue (a bounded
    feed of copies for other tools, full or empty whatever people do)."""
    listed = o.worklist
    if listed is None:
        return "unknown"
    pending = listed.pending.get("closure", 0) + listed.pending.get("transfer", 0)
    oldest = f", the oldest for {waited(listed.oldest_seconds)}" if listed.waiting else ""
    return (
        f"{listed.waiting}{oldest}; proposals for a prosecutor: {pending}; "
        f"downgrades to review: {listed.pending.get('downgrade', 0)}"
    )


def waited(seconds: float | None) -> str:
    """How long something has waited, in the largest whole unit (`45 s`, `12 min`, `3 h`,
    `2 d`), or a dash when nothing waits."""
    if seconds is None:
        return "–"
    for size, unit in ((86400 * 2, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // (86400 if unit == 'd' else size):.0f} {unit}"
    return f"{seconds:.0f} s"


def _local(moment: dt.datetime | None) -> str:
    """A time as Norwegian operators read it (Europe/Oslo), or a dash."""
    if moment is None:
        return "–"
    return moment.astimezone(OSLO).strftime("%d.%m %H:%M")


def _ago(moment: dt.datetime | None, now: dt.datetime) -> str:
    if moment is None:
        return "–"
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    text = (
        f"{size / 86400:.0f} d"
        if size >= 86400 * 2
        else f"{size / 3600:.0f} h"
        if size >= 3600
        else f"{size / 60:.0f} min"
    )
    return f"in {text}" if seconds >= 0 else f"{text} ago"
