"""The overview and the page say what the outbox relay knows: reports that cannot be published
and why (a topology mismatch, RabbitMQ out of the relay's reach), beside the monitor's own
reading of the queues; a queue that is missing reads "missing", never "–"."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import msgspec
from litestar.testing import AsyncTestClient

from services.intake.app import create_app
from services.intake.settings import IntakeSettings, OpsSettings
from tests.integration.stack import example, overview_where
from tests.support.broker_inputs import closed_port, run_script
from tests.support.clients import auth

OPS = OpsSettings(interval_seconds=1, read_timeout_seconds=2, cookie_secure=False)


def watched(settings: IntakeSettings) -> IntakeSettings:
    """The settings with the monitor reading every second."""
    return msgspec.structs.replace(settings, ops=OPS)


async def page(client: AsyncTestClient[Any]) -> str:
    answer = await client.get("/ops", headers=auth("ops"))
    assert answer.status_code == 200
    return html.unescape(answer.text)


def tile(text: str, name: str) -> str:
    """The figure of one tile of the page."""
    start = text.index(f'id="tile-{name}"')
    figure = text.index('<span class="n">', start) + len('<span class="n">')
    return text[figure : text.index("</span>", figure)]


async def test_a_topology_mismatch_is_shown_as_reports_not_published(
    amqp_url: str, intake_settings: Callable[..., IntakeSettings]
) -> None:
    """The new user's case: the routing queue pre-declared with x-max-length."""
    settings = watched(intake_settings())
    prefix = settings.broker.prefix
    queue = f"{prefix}routing.reports"
    run_script("precreate-routing-queue", amqp_url, prefix)
    async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
        mismatch = await overview_where(client, lambda o: o["relay"]["state"] == "mismatch")
        posted = await client.post(
            "/v1/reports", json=example("bicycle-theft"), headers=auth("alpha")
        )
        assert posted.status_code == 202
        grown = await overview_where(
            client, lambda o: o["outbox"] is not None and o["outbox"]["pending"] >= 1
        )
        shown = await page(client)
        ready = (await client.get("/readyz")).json()

        run_script("delete-queue", amqp_url, prefix, queue)  # the operator's repair
        repaired = await overview_where(
            client, lambda o: o["relay"]["state"] == "up" and o["outbox"]["pending"] == 0
        )
        after = await page(client)

    relay = mismatch["relay"]
    # What /readyz says, the overview says: the same line.
    assert relay["problem"] == ready["broker_problem"]
    assert f"queue '{queue}'" in relay["problem"]
    assert "x-dead-letter-exchange" in relay["problem"]
    assert relay["since"] is not None
    assert "guest" not in relay["problem"]
    # The monitor's own reading stays what it is: RabbitMQ answers its passive declares.
    assert mismatch["broker"]["up"] is True
    assert grown["relay"]["state"] == "mismatch"
    assert 'id="relay-blocked"' in shown
    assert "Reports cannot be published to RabbitMQ" in shown
    assert relay["problem"] in shown
    assert "NOT PUBLISHING" in shown
    assert "not being published" in shown
    assert "Reports cannot be published: RabbitMQ's topology differs from ours." in shown
    # The relay stopped at the routing queue: triage and dead-letter queues were never
    # declared, and the page says they are missing.
    assert grown["triage"]["missing"] is True
    assert grown["dead_letter"]["missing"] is True
    assert tile(shown, "triage-feed") == "missing"
    assert tile(shown, "dead-letter") == "missing"
    assert "dead letters: queue missing" in shown
    assert "The triage queue is missing: cases the rules send to triage wait for it" in shown
    # Put right: published, and the page says nothing is wrong.
    assert (repaired["relay"]["problem"], repaired["relay"]["since"]) == (None, None)
    assert 'id="relay-blocked"' not in after
    assert 'id="relay-state" class="state up">publishing' in after


async def test_a_broker_out_of_the_relays_reach_is_shown_with_host_and_port(
    intake_settings: Callable[..., IntakeSettings],
) -> None:
    port = closed_port()
    settings = watched(intake_settings(broker_url=f"amqp://fsi:hunter2-secret@127.0.0.1:{port}/"))
    async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
        down = await overview_where(client, lambda o: o["relay"]["state"] == "down")
        posted = await client.post(
            "/v1/reports", json=example("bicycle-theft"), headers=auth("alpha")
        )
        assert posted.status_code == 202
        await overview_where(client, lambda o: o["outbox"]["pending"] >= 1)
        shown = await page(client)
        body = (await client.get("/v1/ops/overview", headers=auth("ops"))).text
    assert down["relay"]["problem"] == (
        f"cannot reach RabbitMQ at 127.0.0.1:{port} (FSI_BROKER_URL): connection refused"
    )
    assert down["broker"]["up"] is False
    assert f"cannot reach RabbitMQ at 127.0.0.1:{port}" in shown
    assert 'id="relay-blocked"' in shown
    assert "the outbox relay cannot use RabbitMQ" in shown
    for text in (shown, body):
        assert "hunter2-secret" not in text
        assert "fsi:" not in text


async def test_a_process_without_a_relay_says_so_and_blames_nothing(
    intake_settings: Callable[..., IntakeSettings],
) -> None:
    settings = watched(intake_settings(enabled=False))
    async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
        body = await overview_where(client, lambda o: o["database"]["up"])
        shown = await page(client)
    assert body["relay"] == {"state": "disabled", "problem": None, "since": None}
    assert 'id="relay-blocked"' not in shown
    assert "not in this process" in shown


async def test_deleted_triage_routing_and_dead_letter_queues_read_missing(
    amqp_url: str, intake_settings: Callable[..., IntakeSettings]
) -> None:
    settings = watched(intake_settings())
    prefix = settings.broker.prefix
    async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
        # Declared by the relay's first connection.
        await overview_where(client, lambda o: o["triage"] and not o["triage"]["missing"])
        for name in ("triage", "dead-letter", "routing.reports"):
            run_script("delete-queue", amqp_url, prefix, f"{prefix}{name}")
        gone = await overview_where(
            client,
            lambda o: all(o[k] and o[k]["missing"] for k in ("triage", "dead_letter", "routing")),
        )
        shown = await page(client)
    assert gone["broker"]["up"] is True
    for name in ("triage-feed", "dead-letter", "routing"):
        assert tile(shown, name) == "missing", name
    assert "(the triage queue is missing: triaged cases wait for it)" in shown
    assert "(the dead-letter queue is missing)" in shown
    assert "(the routing queue is missing)" in shown
