"""The operations page in a real browser (Debian's chromium, driven by Playwright), with the
intake and the router as real processes; screenshots are kept in `artifacts/`."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, async_playwright

from services.common.topology import Topology
from services.intake.settings import IntakeSettings
from services.routing.main import load_rules
from services.routing.settings import RoutingSettings
from tests.integration.conftest import KEYS, auth
from tests.integration.stack import ROOT, example, wait_routed
from tests.support.processes import ServiceProcess
from tests.support.proxy import TcpProxy

ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Running:
    url: str
    proxy: TcpProxy
    database_url: str
    intake: ServiceProcess


@pytest.fixture
async def running(
    tmp_path: Path,
    database_url: str,
    amqp_url: str,
    clients_file: Path,
    intake_settings: Callable[..., IntakeSettings],
    make_topology: Callable[..., Topology],
) -> AsyncIterator[Running]:
    prefix = intake_settings().broker.prefix
    make_topology(units=load_rules(RoutingSettings()).catalogue.units)  # deleted afterwards
    broker = urlsplit(amqp_url)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    await proxy.start()
    port = free_port()
    common = {"FSI_DB_URL": database_url, "FSI_DB_MIGRATE_ON_START": "false"}
    intake = ServiceProcess(
        "services.intake.main",
        {
            **common,
            # The intake reaches RabbitMQ through the proxy, so the test can cut it.
            "FSI_BROKER_URL": urlunsplit(
                broker._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}")
            ),
            "FSI_BROKER_PREFIX": prefix,
            "FSI_ACCESS_CLIENTS_FILE": str(clients_file),
            "FSI_HTTP_PORT": str(port),
            "FSI_OPS_INTERVAL_SECONDS": "1",
            "FSI_STANDARDISE_ACCEPT_SYNTHETIC_IDS": "true",
        },
        tmp_path / "intake.log",
    )
    router = ServiceProcess(
        "services.routing.main",
        {
            **common,
            "FSI_BROKER_URL": amqp_url,
            "FSI_BROKER_PREFIX": prefix,
            "FSI_METRICS_ENABLED": "false",
        },
        tmp_path / "router.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        router.start()
        intake.start()
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                try:
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the intake did not start: " + intake.output[-2000:])
        yield Running(url, proxy, database_url, intake)
    finally:
        intake.stop()
        router.stop()
        await proxy.stop()


async def rows(page: Page) -> dict[str, dict[str, str]]:
    """The unit table as the browser renders it: unit -> column -> text."""
    found: dict[str, dict[str, str]] = await page.eval_on_selector_all(
        "tr[data-unit]",
        """rows => Object.fromEntries(rows.map(r => [r.dataset.unit, Object.fromEntries(
            [...r.querySelectorAll('td[data-col]')]
                .map(c => [c.dataset.col, c.innerText.trim()]))]))""",
    )
    return found


async def until_shown(page: Page, report_ids: list[str]) -> None:
    for _ in range(40):
        latest = await page.eval_on_selector_all(
            "#latest tr[data-report]", "rows => rows.map(r => r.dataset.report)"
        )
        if set(report_ids) <= set(latest):
            return
        await asyncio.sleep(0.5)
        await page.reload()
    raise AssertionError("the routed reports did not appear on the page")


async def test_the_page_shows_where_each_report_went_and_the_broker_outage(
    running: Running,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    ids = []
    async with httpx.AsyncClient(base_url=running.url) as client:
        for name in ("bicycle-theft", "domestic-violence", "youth-robbery"):
            answer = await client.post("/v1/reports", json=example(name), headers=auth("alpha"))
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["report_id"])
    await wait_routed(running.database_url, len(ids))
    conn = await asyncpg.connect(running.database_url)
    units = await conn.fetch("SELECT unit FROM decisions")
    await conn.close()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = await browser.new_page(viewport={"width": 1600, "height": 1000})
        await page.goto(f"{running.url}/ops")
        assert page.url.endswith("/ops/login")
        await page.fill("#key", KEYS["ops"])
        await page.click("button[type=submit]")
        await page.wait_for_selector("#districts")
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
        for _ in range(30):
            await asyncio.sleep(0.5)
            await page.reload()
            if await page.query_selector("#broker-down"):
                break
        else:
            raise AssertionError("no outage shown: " + running.intake.output[-3000:])
        banner = await page.inner_text("#broker-down")
        assert "RabbitMQ cannot be reached" in banner
        assert await page.inner_text("#broker-state") == "DOWN"
        await page.screenshot(path=str(ARTIFACTS / "ops-broker-down.png"), full_page=True)
        table = await rows(page)
        assert {r["ready"] for r in table.values()} == {"–"}
        # What PostgreSQL knows is still shown.
        assert table[units[0]["unit"]]["routed"] != "0"
        await running.proxy.restore()
        await browser.close()
