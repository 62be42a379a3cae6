"""What the pages' browser tests share: the intake and the router as real processes (the
intake reaching RabbitMQ through a proxy the test can cut, trusting the local OIDC test
provider), signing a person in through the provider's own login form, and axe-core (the npm
package pinned in package.json, installed by `make browser`)."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from services.common.topology import Topology
from services.intake.settings import IntakeSettings
from services.routing.main import load_rules
from services.routing.settings import RoutingSettings
from tests.integration.stack import ROOT
from tests.support.people import OIDC_ENV, PASSWORD
from tests.support.processes import ServiceProcess
from tests.support.proxy import TcpProxy

ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NODE_MODULES = ROOT / "node_modules"
# The WCAG rule sets axe-core checks; any violation of impact serious or critical fails.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING_IMPACTS = {"serious", "critical"}


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
    amqp_url: str = ""
    prefix: str = ""


@pytest.fixture
async def running(
    tmp_path: Path,
    database_url: str,
    intake_database_url: str,
    router_database_url: str,
    amqp_url: str,
    clients_file: Path,
    intake_settings: Callable[..., IntakeSettings],
    make_topology: Callable[..., Topology],
    oidc_issuer: str,
) -> AsyncIterator[Running]:
    prefix = intake_settings().broker.prefix
    make_topology(units=load_rules(RoutingSettings()).catalogue.units)  # deleted afterwards
    broker = urlsplit(amqp_url)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    await proxy.start()
    port = free_port()
    # Each with its own login, as outside development it must be (docs/security.md).
    common = {"FSI_DB_MIGRATE_ON_START": "false"}
    intake = ServiceProcess(
        "services.intake.main",
        {
            **common,
            "FSI_DB_URL": intake_database_url,
            # The intake reaches RabbitMQ through the proxy, so the test can cut it.
            "FSI_BROKER_URL": urlunsplit(
                broker._replace(netloc=f"guest:guest@127.0.0.1:{proxy.port}")
            ),
            "FSI_BROKER_PREFIX": prefix,
            "FSI_ACCESS_CLIENTS_FILE": str(clients_file),
            "FSI_HTTP_PORT": str(port),
            "FSI_OPS_INTERVAL_SECONDS": "1",
            "FSI_STANDARDISE_ACCEPT_SYNTHETIC_IDS": "true",
            # People sign in to the pages with the local OIDC test provider.
            **OIDC_ENV,
        },
        tmp_path / "intake.log",
    )
    router = ServiceProcess(
        "services.routing.main",
        {
            **common,
            "FSI_DB_URL": router_database_url,
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
        yield Running(url, proxy, database_url, intake, amqp_url, prefix)
    finally:
        intake.stop()
        router.stop()
        await proxy.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        await launched.close()


async def provider_login(page: Page, username: str) -> None:
    """Sign in on the identity provider's own login form, by keyboard: the page is on it."""
    await page.wait_for_selector("#username")
    await page.focus("#username")
    await page.keyboard.type(username)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")


async def sign_in(page: Page, url: str, username: str = "ola") -> None:
    """Sign an operator in on /ops through the provider and wait for the first figures, the
    units among them (they come from the router's first rule load, read by the monitor)."""
    await page.goto(f"{url}/ops")
    await provider_login(page, username)
    await page.wait_for_url(f"{url}/ops")
    for _ in range(40):
        if await page.query_selector("#districts tr[data-unit]"):
            return
        await asyncio.sleep(0.5)
        await page.reload()
    raise AssertionError("the operations page showed no figures")


def axe_source() -> str:
    """axe-core as installed from package.json's pin (`make browser` runs npm ci)."""
    pinned = json.loads((ROOT / "package.json").read_text("utf-8"))["devDependencies"]
    installed = NODE_MODULES / "axe-core" / "package.json"
    if not installed.is_file():
        pytest.fail("axe-core is not installed: `make browser` installs it (npm ci)")
    version = json.loads(installed.read_text("utf-8"))["version"]
    assert version == pinned["axe-core"], f"axe-core {version}, package.json pins another"
    return (NODE_MODULES / "axe-core" / "axe.min.js").read_text("utf-8")


async def axe(page: Page, name: str) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is; every violation is written to artifacts/, and the
    serious and critical ones are returned (impact, rule, help, the elements' selectors)."""
    # Evaluated through the DevTools protocol, which the page's CSP does not govern: the
    # page itself allows no inline script.
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.evaluate(axe_source())
    result = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(
        json.dumps(result["violations"], indent=2), encoding="utf-8"
    )
    return [
        {
            "impact": v["impact"],
            "rule": v["id"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in FAILING_IMPACTS
    ]
