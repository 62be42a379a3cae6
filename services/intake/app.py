"""The intake application: settings in, a Litestar app out, with its pool, relay and clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin

from schemas import reference
from services.common import db
from services.common import logging as fsi_logging
from services.common.settings import SettingsError
from services.common.topology import Topology
from services.intake import api, openapi
from services.intake.access import Clients, ClientsFileError, RateLimiter
from services.intake.outbox import BrokerLink, OutboxRelay
from services.intake.service import IntakeService
from services.intake.settings import IntakeSettings
from services.intake.standardise import Options

log = fsi_logging.get_logger("app")


def topology_of(settings: IntakeSettings) -> Topology:
    """The topology the intake declares and publishes to."""
    return Topology(prefix=settings.broker.prefix, queue_type=settings.broker.queue_type)


async def _stop(relay: OutboxRelay, task: asyncio.Task[None]) -> None:
    """Let the relay finish its batch (bounded), then cancel it if it has not."""
    relay.stop()
    done, _ = await asyncio.wait({task}, timeout=15)
    if not done:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def load_clients(settings: IntakeSettings) -> Clients:
    """The API clients file, or a `SettingsError` naming FSI_ACCESS_CLIENTS_FILE."""
    if not settings.access.clients_file:
        raise SettingsError(
            "invalid setting FSI_ACCESS_CLIENTS_FILE: required (the API clients file)"
        )
    try:
        return Clients.from_file(settings.access.clients_file)
    except OSError as exc:
        raise SettingsError(f"invalid setting FSI_ACCESS_CLIENTS_FILE: {exc.strerror}") from None
    except ClientsFileError as exc:
        raise SettingsError(f"invalid setting FSI_ACCESS_CLIENTS_FILE: {exc}") from None


def create_app(settings: IntakeSettings, *, configure_logging: bool = True) -> Litestar:
    """The intake app; nothing connects until it starts."""
    if configure_logging:
        fsi_logging.configure(settings.log)
    clients = load_clients(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await db.create_pool(settings.db)
        link = BrokerLink(settings.broker.url, topology_of(settings))
        relay = OutboxRelay(pool, settings.db.url, link, settings.relay)
        relay_task: asyncio.Task[None] | None = None
        if settings.relay.enabled:
            relay_task = asyncio.create_task(relay.run(), name="outbox-relay")
        app.state.intake = api.IntakeState(
            service=IntakeService(
                pool=pool,
                reference=reference.load(),
                options=Options(
                    accept_synthetic_ids=settings.standardise.accept_synthetic_ids,
                    accept_2032_checksums=settings.standardise.accept_2032_checksums,
                ),
            ),
            clients=clients,
            limiter=RateLimiter(settings.access.rate_per_second, settings.access.rate_burst),
            link=link if settings.relay.enabled else None,
            max_batch_items=settings.http.max_batch_items,
        )
        log.info("intake started")
        try:
            yield
        finally:
            if relay_task is not None:
                await _stop(relay, relay_task)
            try:
                await asyncio.wait_for(pool.close(), 10)
            except TimeoutError:
                log.warning("database pool did not close in time; terminated")
                pool.terminate()
            log.info("intake stopped")

    handlers: list[Any] = [api.ReportsController, api.SourcesController, api.healthz, api.readyz]
    app = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        plugins=[ProblemDetailsPlugin(ProblemDetailsConfig(enable_for_all_http_exceptions=True))],
        exception_handlers={
            asyncpg.PostgresConnectionError: api.database_unavailable,
            asyncpg.InterfaceError: api.database_unavailable,
            ConnectionError: api.database_unavailable,
            TimeoutError: api.database_unavailable,
            Exception: api.internal_error,
        },
        request_max_body_size=settings.http.max_batch_body_bytes,
        openapi_config=OpenAPIConfig(
            title="FSI intake",
            version="1.0.0",
            description="Felles straffesaksinntak: crime reports in, standardised, routed.",
            path="/schema",
        ),
        logging_config=None,
        debug=False,
    )
    app.state.max_body_bytes = settings.http.max_body_bytes
    openapi.complete(app)
    return app
