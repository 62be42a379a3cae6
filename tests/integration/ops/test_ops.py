"""Metrics and the operations overview after real traffic through the real services."""

from __future__ import annotations

import asyncio
import datetime as dt
import html.parser
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import msgspec
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from schemas.report import OSLO
from services.common.settings import DatabaseSettings
from services.intake.app import create_app
from services.intake.settings import IntakeSettings, OpsSettings
from tests.integration.stack import Stack, example, overview_where, wait_routed
from tests.support.clients import auth
from tests.support.proxy import TcpProxy

EXAMPLES = ("bicycle-theft", "domestic-violence", "youth-robbery")


async def scrape(stack: Stack) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = await stack.intake.get("/metrics")
    assert answer.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def post_examples(stack: Stack) -> dict[str, str]:
    ids = {}
    for name in EXAMPLES:
        answer = await stack.intake.post("/v1/reports", json=example(name), headers=auth("alpha"))
        assert answer.status_code == 202, answer.text
        ids[name] = answer.json()["report_id"]
    await wait_routed(stack.database_url, len(EXAMPLES))
    return ids


async def decisions(stack: Stack, ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    shown = {}
    for name, report_id in ids.items():
        answer = await stack.intake.get(f"/v1/reports/{report_id}", headers=auth("alpha"))
        shown[name] = answer.json()["decision"]
    return shown


async def overview(stack: Stack) -> dict[str, Any]:
    """The first overview the monitor (every second here) read after this call."""
    asked = dt.datetime.now(dt.UTC)
    for _ in range(100):
        answer = await stack.intake.get("/v1/ops/overview", headers=auth("ops"))
        if answer.status_code == 200:
            body: dict[str, Any] = answer.json()
            if dt.datetime.fromisoformat(body["generated_at"]) > asked:
                return body
        await asyncio.sleep(0.1)
    raise AssertionError("the monitor did not refresh the overview within 10 s")


def units_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {u["unit"]: u for d in body["districts"] for u in d["units"]}


async def test_metrics_count_real_traffic(stack: Stack) -> None:
    before = await scrape(stack)
    ids = await post_examples(stack)
    repeat = example("bicycle-theft")
    repeat["external_id"] = "repeat-" + ids["bicycle-theft"]
    for _ in range(2):
        await stack.intake.post("/v1/reports", json=repeat, headers=auth("alpha"))
    bad = await stack.intake.post("/v1/reports", json={"source": 1}, headers=auth("alpha"))
    assert bad.status_code == 422
    refused = await stack.intake.post("/v1/reports", json=repeat, headers=auth("beta"))
    assert refused.status_code == 403
    await wait_routed(stack.database_url, len(EXAMPLES) + 1)
    decided = await decisions(stack, ids)
    await overview(stack)
    after = await scrape(stack)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    accepted = sum(
        delta("fsi_intake_reports_total", source="alpha-src", result=r)
        for r in ("accepted", "soft_flagged")
    )
    assert accepted == len(EXAMPLES) + 1
    assert delta("fsi_intake_reports_total", source="alpha-src", result="duplicate") == 1
    assert delta("fsi_intake_reports_total", source="unknown", result="invalid") == 1
    assert delta("fsi_intake_reports_total", source="unknown", result="refused") == 1
    assert delta("fsi_outbox_publishes_total", result="published") == len(EXAMPLES) + 1
    for name, decision in decided.items():
        labels = {
            "district": decision["district"],
            "unit": decision["unit"],
            "priority": decision["priority"],
        }
        routed_here = 1 + (name == "bicycle-theft")
        assert delta("fsi_routing_decisions_total", **labels) >= 1, (name, labels)
        queue = stack.topology.unit_queue(decision["unit"]).name
        # Nothing consumes the unit queues in this test, so every case waits there.
        ready = value(
            after,
            "fsi_queue_messages_ready",
            queue=queue,
            kind="unit",
            district=decision["district"],
            unit=decision["unit"],
        )
        same_unit = sum(d["unit"] == decision["unit"] for d in decided.values())
        assert ready == same_unit + (routed_here - 1), (name, ready)
    assert value(after, "fsi_broker_up") == 1
    assert value(after, "fsi_database_up") == 1
    assert value(after, "fsi_outbox_pending_rows") == 0
    for sample_key in after:
        labels = dict(sample_key[1])
        # No report id, name or national id in any label.
        assert not any(i in v for v in labels.values() for i in ids.values())


async def test_deadlines_follow_the_held_cases(stack: Stack) -> None:
    ids = await post_examples(stack)
    decided = await decisions(stack, ids)
    body = await overview(stack)
    units = units_of(body)
    figures = {f["unit"]: f for f in body["deadlines"]}
    now = body["generated_at"]
    with_deadline = 0
    for decision in decided.values():
        deadline = decision.get("deadline")
        unit = units[decision["unit"]]
        assert unit["routed_last_hour"] >= 1
        if deadline is None:
            continue
        with_deadline += 1
        due = deadline["due_at"]
        shown = figures[decision["unit"]]
        # Just routed and no event yet: open (or missed, were it due already), never met.
        if due > now:
            assert shown["open"] >= 1
            assert unit["nearest_deadline"] is not None
            assert unit["nearest_deadline"] <= due
        else:
            assert shown["missed"] >= 1
            assert unit["missed"] == shown["missed"]
        # Routed seconds ago: not yet "not received" (FSI_OPS_NOT_RECEIVED_AFTER_SECONDS).
        assert shown["not_received"] == 0
    assert with_deadline >= 1
    totals = body["deadline_totals"]
    assert totals["open"] + totals["missed"] == sum(
        f["open"] + f["missed"] for f in figures.values()
    )
    urgent = {c["report_id"] for c in body["urgent"]}
    latest = {c["report_id"] for c in body["latest"]}
    assert set(ids.values()) <= latest
    assert {
        ids[n] for n, d in decided.items() if d.get("deadline") and d["deadline"]["due_at"] > now
    } <= urgent


class _Rows(html.parser.HTMLParser):
    """The unit rows of the operations page: unit -> column -> text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self._unit: str | None = None
        self._col: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-unit"):
            self._unit = found["data-unit"]
            self.rows[self._unit or ""] = {}
        if tag == "td" and self._unit and found.get("data-col"):
            self._col = found["data-col"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._col = None
        if tag == "tr":
            self._unit = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._unit and self._col:
            cell = self.rows[self._unit]
            cell[self._col] = cell.get(self._col, "") + data.strip()


async def test_page_and_json_agree(stack: Stack) -> None:
    await post_examples(stack)
    body = await overview(stack)
    page = await stack.intake.get("/ops", headers=auth("ops"))
    assert page.status_code == 200
    # Updated in place by its script, never reloaded under its reader.
    assert "http-equiv" not in page.text
    rows = _Rows()
    rows.feed(page.text)
    units = units_of(body)
    assert set(rows.rows) == set(units)
    assert len(units) == 96
    for unit, shown in rows.rows.items():
        data = units[unit]
        assert shown["ready"] == str(data["queue"]["ready"]), unit
        assert shown["consumers"] == str(data["queue"]["consumers"]), unit
        assert shown["routed"] == str(data["routed_last_hour"]), unit
        assert shown["missed"] == str(data["missed"]), unit
        assert shown["due24"] == str(data["due_within_24h"]), unit
    assert body["ruleset"]["version"] in page.text


async def test_operators_only(stack: Stack) -> None:
    assert (await stack.intake.get("/v1/ops/overview")).status_code == 401
    assert (await stack.intake.get("/v1/ops/overview", headers=auth("alpha"))).status_code == 403
    page = await stack.intake.get("/ops", follow_redirects=False)
    assert page.status_code == 303
    # The sign-in returns to the page asked for.
    assert page.headers["location"] == "/ops/login"  # the page's root: nowhere to return to
    assert (await stack.intake.get("/ops", headers=auth("alpha"))).status_code == 403


async def test_a_database_outage_is_shown_and_passes(
    database_url: str, intake_settings: Callable[..., IntakeSettings]
) -> None:
    target = urlsplit(database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    through_proxy = database_url.replace(f":{target.port or 5432}", f":{proxy.port}", 1)
    settings = msgspec.structs.replace(
        intake_settings(),
        db=DatabaseSettings(url=through_proxy, pool_min=1, pool_max=2),
        ops=OpsSettings(interval_seconds=1, read_timeout_seconds=2, cookie_secure=False),
    )
    try:
        async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
            up = await overview_where(client, lambda o: o["database"]["up"])
            await proxy.cut()
            down = await overview_where(client, lambda o: not o["database"]["up"])
            page = await client.get("/ops", headers=auth("ops"))
            await proxy.restore()
            again = await overview_where(client, lambda o: o["database"]["up"])
    finally:
        await proxy.stop()
    assert up["outbox"] is not None
    assert down["outbox"] is None
    assert down["database"]["error"]
    assert down["broker"]["up"] is True
    assert 'id="database-down"' in page.text
    assert "PostgreSQL cannot be reached" in page.text
    assert again["outbox"] is not None


async def test_page_is_english_with_norwegian_names_marked_and_a_strict_policy(
    stack: Stack,
) -> None:
    await overview(stack)
    page = await stack.intake.get("/ops", headers=auth("ops"))
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    # District and unit names are Norwegian: a screen reader must read them so.
    assert '<span lang="nb">Møre og Romsdal</span>' in page.text
    assert '<span lang="nb">Seksjon for vold i nære relasjoner</span>' in page.text
    policy = dict(
        part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "<script>" not in page.text
    assert " style=" not in page.text
    assert page.headers["cache-control"] == "no-store"
    login = await stack.intake.get("/ops/signed-out")
    assert login.headers["content-security-policy"] == page.headers["content-security-policy"]


async def test_page_assets_are_served_from_the_package(stack: Stack) -> None:
    await overview(stack)
    page = await stack.intake.get("/ops", headers=auth("ops"))
    urls = re.findall(r'(?:src|href)="(/ops/static/[^"]+)"', page.text)
    kinds = {
        "/ops/static/ops.css": "text/css; charset=utf-8",
        "/ops/static/ops.js": "text/javascript; charset=utf-8",
        "/ops/static/morphdom.min.js": "text/javascript; charset=utf-8",
        "/ops/static/favicon.svg": "image/svg+xml",
    }
    assert {urlsplit(u).path for u in urls} == set(kinds)
    for url in urls:
        answer = await stack.intake.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["x-content-type-options"] == "nosniff"
        # One media type, its charset once (RFC 9110 8.3.1).
        assert answer.headers.get_list("content-type") == [kinds[urlsplit(url).path]], url
        assert "immutable" in answer.headers["cache-control"]
    assert (await stack.intake.get("/ops/static/../app.py")).status_code == 404
    assert (await stack.intake.get("/ops/static/nothing.js")).status_code == 404


async def test_the_page_declares_its_icon_so_no_favicon_request_fails(stack: Stack) -> None:
    """Without an icon of its own a browser asks for /favicon.ico, a 404 in the console."""
    await overview(stack)
    for path, headers in (("/ops", auth("ops")), ("/ops/signed-out", {})):
        answer = await stack.intake.get(path, headers=headers)
        icons = re.findall(r'<link rel="icon" href="([^"]+)" type="([^"]+)">', answer.text)
        assert len(icons) == 1, path
        ((href, kind),) = icons
        assert urlsplit(href).path == "/ops/static/favicon.svg"
        icon = await stack.intake.get(href)
        assert icon.status_code == 200
        assert icon.headers["content-type"] == kind == "image/svg+xml"
        assert icon.content.startswith(b"<svg ")
        # The page's own policy allows it: an image from the page's origin.
        assert "img-src 'self'" in answer.headers["content-security-policy"]


async def test_every_text_answer_names_its_charset_once(stack: Stack) -> None:
    await overview(stack)
    answers = {
        "/ops": await stack.intake.get("/ops", headers=auth("ops")),
        "/ops/signed-out": await stack.intake.get("/ops/signed-out"),
        "/metrics": await stack.intake.get("/metrics"),
        "/ops/static/ops.css": await stack.intake.get("/ops/static/ops.css"),
        "/ops/static/ops.js": await stack.intake.get("/ops/static/ops.js"),
        "/ops/static/nothing.css": await stack.intake.get("/ops/static/nothing.css"),
        "/v1/ops/overview": await stack.intake.get("/v1/ops/overview", headers=auth("ops")),
    }
    for path, answer in answers.items():
        (kind,) = answer.headers.get_list("content-type")
        assert kind.lower().count("charset") <= 1, (path, kind)
    assert answers["/ops"].headers["content-type"] == "text/html; charset=utf-8"


async def test_latest_routed_shows_when_the_queue_confirmed_each_case(
    intake_settings: Callable[..., IntakeSettings], database_url: str
) -> None:
    """Routed is the unit queue's confirmation, not the decision: a case decided three hours
    before its queue took it (it waited for a missing queue) shows the confirmation."""
    settings = msgspec.structs.replace(
        intake_settings(), ops=OpsSettings(interval_seconds=1, cookie_secure=False)
    )
    async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
        posted = await client.post(
            "/v1/reports", json=example("bicycle-theft"), headers=auth("alpha")
        )
        report_id = posted.json()["report_id"]
        conn = await asyncpg.connect(database_url)
        try:
            decided_at, confirmed_at = await conn.fetchrow(
                """
                WITH decided AS (
                    INSERT INTO decisions (report_id, unit, priority, amqp_priority,
                                           ruleset_version, decided_at, decision)
                    VALUES ($1, 'oslo.felles-etterforskning', 'normal', 5, 'v-test',
                            now() - interval '3 hours', '{}'::jsonb)
                    RETURNING decided_at
                ), confirmed AS (
                    INSERT INTO case_deliveries (report_id, unit)
                    VALUES ($1, 'oslo.felles-etterforskning') RETURNING confirmed_at
                )
                SELECT (SELECT decided_at FROM decided), (SELECT confirmed_at FROM confirmed)
                """,
                uuid.UUID(report_id),
            )
        finally:
            await conn.close()
        body = await overview_where(
            client, lambda o: report_id in {c["report_id"] for c in o["latest"]}
        )
        page = await client.get("/ops", headers=auth("ops"))
    case = next(c for c in body["latest"] if c["report_id"] == report_id)
    assert dt.datetime.fromisoformat(case["confirmed_at"]) == confirmed_at
    assert dt.datetime.fromisoformat(case["decided_at"]) == decided_at
    row = re.search(rf'<tr data-report="{report_id}">(.*?)</tr>', page.text, re.S)
    assert row is not None
    oslo = confirmed_at.astimezone(OSLO).strftime("%d.%m %H:%M")
    assert (
        f'<td data-col="confirmed"><time datetime="{confirmed_at.isoformat()}">{oslo}</time></td>'
        in row.group(1)
    )
    assert decided_at.astimezone(OSLO).strftime("%d.%m %H:%M") not in row.group(1)
    assert '<th scope="col">Queue confirmed</th>' in page.text
