"""The alerts on series as the real services export them: a router and an intake run as
processes, their /metrics are read at start and after the first event, and promtool
evaluates alerts.yml over those scrapes laid out as Prometheus would have stored them."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import yaml

from services.common.topology import Topology
from services.intake import metrics as intake_metrics
from services.intake.settings import IntakeSettings
from services.routing.main import load_rules
from services.routing.settings import RoutingSettings
from tests.integration.ops.browser import free_port
from tests.integration.stack import ROOT, example
from tests.support.clients import auth
from tests.support.processes import ServiceProcess
from tests.support.promtool import Scrape, parse_scrape, promtool, series_from_scrapes
from tests.unit.deploy.test_monitoring import CONTRACT

ALERTS_YML = ROOT / "deploy" / "monitoring" / "alerts.yml"
ROUTER = {"job": "fsi-router", "instance": "router:9102"}
INTAKE = {"job": "fsi-intake", "instance": "intake:8000"}
# The router's counters whose label values are known in code (the contract enumerates them).
ZEROED_ROUTER = (
    ("fsi_routing_dead_letters_total", "reason"),
    ("fsi_routing_triage_total", "reason"),
    ("fsi_routing_rule_reloads_total", "result"),
)


async def scrape(url: str) -> dict[Any, float]:
    async with httpx.AsyncClient() as client:
        answer = await client.get(url)
    assert answer.status_code == 200, answer.text
    return parse_scrape(answer.text)


async def scrape_until(url: str, check: Callable[[Scrape], bool], what: str) -> Scrape:
    for _ in range(150):
        try:
            found = await scrape(url)
        except httpx.TransportError:
            found = {}
        if check(found):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"not seen within 15 s: {what}")


async def until_consuming(connection: aio_pika.abc.AbstractConnection, queue: str) -> None:
    """Wait until `queue` exists and has a consumer. A passive declare of a queue the router
    has not declared yet closes its channel (404), so each try opens a channel of its own."""
    for _ in range(300):
        channel = await connection.channel()
        try:
            declared = await channel.declare_queue(queue, passive=True)
        except aio_pika.exceptions.ChannelNotFoundEntity:
            declared = None
        finally:
            if not channel.is_closed:
                await channel.close()
        if declared is not None and declared.declaration_result.consumer_count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing consumes {queue} within 30 s")


def value(scrape: Scrape, name: str, **labels: str) -> float | None:
    return scrape.get((name, frozenset(labels.items())))


def promtool_case(
    tmp_path: Path, series: list[dict[str, str]], at: str, expr: str, expected: list[str]
) -> str:
    """Run promtool over the series; '' when `expr` at `at` gives exactly the `expected`
    series (each with value 1), else promtool's complaint."""
    shutil.copy(ALERTS_YML, tmp_path / "alerts.yml")
    test = {
        "rule_files": ["alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [
                    {
                        "expr": expr,
                        "eval_time": at,
                        "exp_samples": [{"labels": e, "value": 1} for e in expected],
                    }
                ],
            }
        ],
    }
    (tmp_path / "case.yml").write_text(yaml.safe_dump(test), encoding="utf-8")
    ran = promtool("test", "rules", "case.yml", cwd=tmp_path)
    return "" if ran.returncode == 0 else ran.stdout + ran.stderr


async def test_first_dead_letter_and_first_refused_reload_after_a_router_start_alert(
    tmp_path: Path,
    router_database_url: str,
    amqp_url: str,
    make_topology: Callable[..., Topology],
) -> None:
    rules_file = tmp_path / "rules.yaml"
    shutil.copy(ROOT / "deploy/routing/rules.yaml", rules_file)
    topology = make_topology(units=load_rules(RoutingSettings()).catalogue.units)
    port = free_port()
    router = ServiceProcess(
        "services.routing.main",
        {
            "FSI_DB_URL": router_database_url,
            "FSI_DB_MIGRATE_ON_START": "false",
            "FSI_BROKER_URL": amqp_url,
            "FSI_BROKER_PREFIX": topology.prefix,
            "FSI_RULES_FILE": str(rules_file),
            "FSI_METRICS_PORT": str(port),
        },
        tmp_path / "router.log",
    )
    url = f"http://127.0.0.1:{port}/metrics"
    router.start()
    try:
        started = await scrape_until(
            url, lambda s: any(n == "fsi_routing_ruleset_info" for n, _ in s), "rules loaded"
        )
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            # The rules load (and the metrics answer) before the router reaches PostgreSQL and
            # RabbitMQ: the dead letter is timed from when it consumes.
            await until_consuming(connection, topology.routing_queue.name)
            channel = await connection.channel()
            await channel.default_exchange.publish(
                aio_pika.Message(b"not json", content_type="application/json"),
                routing_key=topology.routing_queue.name,
            )
        dead_lettered = await scrape_until(
            url,
            lambda s: value(s, "fsi_routing_dead_letters_total", reason="undecodable") == 1,
            "the dead letter counted: " + router.output[-2000:],
        )

        good = rules_file.read_text(encoding="utf-8")
        rules_file.write_text("rules: [", encoding="utf-8")
        await scrape_until(
            url,
            lambda s: value(s, "fsi_routing_rule_reloads_total", result="refused") == 1,
            "the refused reload counted",
        )
        rules_file.write_text(good + "\n", encoding="utf-8")
        replaced = await scrape_until(
            url,
            lambda s: (
                value(s, "fsi_routing_rule_reloads_total", result="loaded") == 1
                and value(s, "fsi_routing_rules_refused") == 0
            ),
            "the good file loaded again",
        )
    finally:
        router.stop()

    # Not scraped before 2m; the start until 4m, the dead letter until 6m, then the good file
    # back (the refusal lasted less than a scrape interval: only its counter tells).
    series = series_from_scrapes(
        [(2, started), (2, dead_lettered), (20, replaced)], ROUTER, before=2
    )
    firing = 'ALERTS{alertstate="firing"}'
    assert (
        promtool_case(
            tmp_path,
            series,
            "8m",
            firing,
            [
                'ALERTS{alertname="FsiDeadLetters", alertstate="firing", reason="undecodable",'
                ' severity="warning"}',
                'ALERTS{alertname="FsiRuleReloadRefused", alertstate="firing", job="fsi-router",'
                ' instance="router:9102", severity="warning"}',
            ],
        )
        == ""
    )
    # Nothing fires on the start alone.
    quiet = series_from_scrapes([(20, started)], ROUTER, before=2)
    assert promtool_case(tmp_path, quiet, "15m", firing, []) == ""
    # Every reason and result the router knows is exported at 0 from its start.
    for name, label in ZEROED_ROUTER:
        for known in CONTRACT[name].labels[label] or ():
            assert value(started, name, **{label: known}) == 0, (name, known)


async def test_intake_exports_report_and_publish_outcomes_at_zero_from_the_start(
    tmp_path: Path,
    intake_database_url: str,
    clients_file: Path,
    intake_settings: Callable[..., IntakeSettings],
) -> None:
    settings = intake_settings()
    port = free_port()
    intake = ServiceProcess(
        "services.intake.main",
        {
            "FSI_DB_URL": intake_database_url,
            "FSI_DB_MIGRATE_ON_START": "false",
            "FSI_BROKER_URL": settings.broker.url,
            "FSI_BROKER_PREFIX": settings.broker.prefix,
            "FSI_ACCESS_CLIENTS_FILE": str(clients_file),
            "FSI_HTTP_PORT": str(port),
            "FSI_RELAY_ENABLED": "false",
        },
        tmp_path / "intake.log",
    )
    base = f"http://127.0.0.1:{port}"
    intake.start()
    try:
        started = await scrape_until(f"{base}/metrics", bool, "the intake answering /metrics")
        # The same reference with other content: a conflict, counted under its source.
        first = example("bicycle-theft")
        second = {**first, "reported_at": "2026-01-02T10:00:00+01:00"}
        async with httpx.AsyncClient(base_url=base) as client:
            answer = await client.post("/v1/reports", json=first, headers=auth("alpha"))
            assert answer.status_code == 202, answer.text
            answer = await client.post("/v1/reports", json=second, headers=auth("alpha"))
            assert answer.status_code == 409, answer.text
        after = await scrape_until(
            f"{base}/metrics",
            lambda s: (
                value(s, "fsi_intake_reports_total", source="alpha-src", result="conflict") == 1
            ),
            "the conflicting report counted",
        )
    finally:
        intake.stop()

    series = series_from_scrapes([(2, started), (10, after)], INTAKE, before=2)
    rejected = 'fsi_intake_reports_total{result=~"invalid|conflict"}'
    increase = f"sum by (source) (increase({rejected}[15m])) > 0"
    assert promtool_case(tmp_path, series, "10m", increase, ['{source="alpha-src"}']) == ""
    # Every outcome of every source the clients file names (and `unknown`, `other`), and
    # both publish results, are exported at 0 from the start.
    sources = ("alpha-src", "beta-src", "nettanmeldelse", "patrulje", "etat-974760673")
    for source in (*sources, intake_metrics.UNKNOWN_SOURCE, intake_metrics.OTHER_SOURCE):
        for result in CONTRACT["fsi_intake_reports_total"].labels["result"] or ():
            shown = value(started, "fsi_intake_reports_total", source=source, result=result)
            assert shown == 0, (source, result)
    for result in CONTRACT["fsi_outbox_publishes_total"].labels["result"] or ():
        assert value(started, "fsi_outbox_publishes_total", result=result) == 0, result
