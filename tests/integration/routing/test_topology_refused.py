"""A routing queue an operator pre-declared with other arguments: the router will not start
and says which queue and argument, in one line with its own exit code; the intake stays
ready (the database decides), shows the broker as `mismatch` with the same words on
/readyz, keeps the reports in its outbox, and publishes them once the queue is put right."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aio_pika
import pytest
from litestar.testing import AsyncTestClient

from services.common.settings import BrokerSettings, DatabaseSettings, LogSettings
from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from services.routing.main import serve
from services.routing.settings import MetricsSettings, RoutingSettings
from tests.integration.stack import example
from tests.support.broker_inputs import run_script
from tests.support.clients import auth


def router_settings(database_url: str, amqp_url: str, prefix: str) -> RoutingSettings:
    return RoutingSettings(
        db=DatabaseSettings(url=database_url, pool_min=1, pool_max=2, migrate_on_start=False),
        broker=BrokerSettings(url=amqp_url, prefix=prefix),
        log=LogSettings(),
        metrics=MetricsSettings(enabled=False),
    )


async def test_the_router_refuses_to_start_naming_the_queue_and_argument(
    router_database_url: str, amqp_url: str, intake_settings: Callable[..., IntakeSettings]
) -> None:
    prefix = intake_settings().broker.prefix
    run_script("precreate-routing-queue", amqp_url, prefix)
    with pytest.raises(Exception) as refused:  # noqa: PT011 - its kind is what is checked
        await serve(router_settings(router_database_url, amqp_url, prefix), asyncio.Event())
    # A StartupError that fsi-router leaves with in one line, exit code 76 (EX_PROTOCOL)
    assert getattr(refused.value, "exit_code", None) == 76
    said = str(refused.value)
    assert f"queue '{prefix}routing.reports'" in said
    assert (
        f"x-dead-letter-exchange = none, we declare x-dead-letter-exchange = '{prefix}dead-letter'"
        in said
    )
    assert "FSI_BROKER_URL" in said
    assert "guest:guest" not in said


async def _ready(client: AsyncTestClient[Any], broker: str) -> dict[str, Any]:
    for _ in range(100):
        answer = await client.get("/readyz")
        if answer.json()["broker"] == broker:
            assert answer.status_code == 200
            return dict(answer.json())
        await asyncio.sleep(0.1)
    raise AssertionError(f"the broker never showed as {broker}: {answer.json()}")


async def test_the_intake_shows_the_mismatch_and_keeps_the_reports_until_it_is_put_right(
    amqp_url: str,
    intake_settings: Callable[..., IntakeSettings],
    routing_queue_name: str,
) -> None:
    settings = intake_settings()
    prefix = settings.broker.prefix
    run_script("precreate-routing-queue", amqp_url, prefix)
    app = create_app(settings, configure_logging=False)
    async with AsyncTestClient(app) as client:
        ready = await _ready(client, "mismatch")
        assert ready["status"] == "ready"  # accepting needs only the database
        assert ready["database"] == "up"
        assert ready["broker_problem"].startswith("RabbitMQ at ")
        assert (
            f"queue '{routing_queue_name}': the broker has x-dead-letter-exchange"
            in (ready["broker_problem"])
        )
        posted = await client.post(
            "/v1/reports", json=example("bicycle-theft"), headers=auth("alpha")
        )
        assert posted.status_code == 202
        await asyncio.sleep(1)  # several relay rounds
        shown = await client.get(posted.headers["location"], headers=auth("alpha"))
        assert shown.json()["status"] == "accepted"  # kept in the outbox, not published
        # The operator's repair: the pre-declared queue goes; the relay declares ours.
        run_script("delete-queue", amqp_url, prefix, routing_queue_name)
        ready = await _ready(client, "up")
        assert ready["broker_problem"] is None
        for _ in range(100):
            shown = await client.get(posted.headers["location"], headers=auth("alpha"))
            if shown.json()["status"] == "published":
                break
            await asyncio.sleep(0.1)
        assert shown.json()["status"] == "published"


@pytest.fixture
def routing_queue_name(intake_settings: Callable[..., IntakeSettings]) -> str:
    return f"{intake_settings().broker.prefix}routing.reports"


async def test_an_unreachable_broker_is_down_with_its_host_and_port(
    intake_settings: Callable[..., IntakeSettings],
) -> None:
    settings = intake_settings(broker_url="amqp://fsi:hunter2-secret@127.0.0.1:9/")
    app = create_app(settings, configure_logging=False)
    async with AsyncTestClient(app) as client:
        for _ in range(100):
            ready = (await client.get("/readyz")).json()
            if ready["broker_problem"]:
                break
            await asyncio.sleep(0.1)
    assert ready["broker"] == "down"
    assert ready["broker_problem"] == (
        "cannot reach RabbitMQ at 127.0.0.1:9 (FSI_BROKER_URL): connection refused"
    )


async def test_a_routing_queue_deleted_while_the_intake_runs_is_declared_again(
    amqp_url: str,
    intake_settings: Callable[..., IntakeSettings],
    routing_queue_name: str,
) -> None:
    settings = intake_settings()
    app = create_app(settings, configure_logging=False)
    async with AsyncTestClient(app) as client:
        await _ready(client, "up")
        run_script("delete-queue", amqp_url, settings.broker.prefix, routing_queue_name)
        posted = await client.post(
            "/v1/reports", json=example("bicycle-theft"), headers=auth("alpha")
        )
        # Returned (no queue bound), kept; the relay's next connection declares the queue.
        for _ in range(200):
            shown = await client.get(posted.headers["location"], headers=auth("alpha"))
            if shown.json()["status"] == "published":
                break
            await asyncio.sleep(0.1)
        assert shown.json()["status"] == "published"
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        queue = await (await connection.channel()).declare_queue(routing_queue_name, passive=True)
        message = await queue.get(timeout=5)
        assert message.message_id == posted.json()["report_id"]
