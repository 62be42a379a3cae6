"""The intake application: settings in, a Litestar app out; its lifespan opens the parts."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import prometheus_client
from litestar import Litestar
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.problem_details import ProblemDetailsConfig, ProblemDetailsPlugin
from litestar.template.config import TemplateConfig

from schemas import reference
from services.common import db
from services.common import logging as fsi_logging
from services.common.sessions import Rules, Sessions, SessionStore
from services.common.settings import SettingsError
from services.common.standardise import Options
from services.common.topology import Topology
from services.intake import (
    api,
    body,
    health,
    http_policy,
    metrics,
    openapi,
    openapi_renderings,
    ops_api,
    problems,
    signin_api,
)
from services.intake.access import Clients, ClientsFileError, RateLimiter
from services.intake.brokerlink import BrokerLink
from services.intake.cases import api as cases_api
from services.intake.cases.store import CaseEventStore, PgCaseEvents
from services.intake.oidc import OidcVerifier
from services.intake.oidc_signin import PageSignIn
from services.intake.ops import Monitor
from services.intake.outbox import OutboxRelay
from services.intake.page_signin import PageForbidden
from services.intake.people import PeopleVerifier
from services.intake.service import IntakeService, ReportStore
from services.intake.session_store import PgSessionStore
from services.intake.settings import IntakeSettings, OpsSettings
from services.intake.state import HttpLimits, IntakeState, OpsPage
from services.intake.store import PgReportStore
from services.intake.triage import pages as triage_pages
from services.intake.triage import routes as triage_routes
from services.intake.triage.disposition_model import DispositionStore
from services.intake.triage.disposition_store import PgDispositionStore
from services.intake.triage.grounds import load_grounds
from services.intake.triage.model import Refusal
from services.intake.triage.rulebook import RuleBook
from services.intake.triage.worklist import Worklist, WorklistStore
from services.intake.triage.worklist_api import refusal_response
from services.intake.triage.worklist_store import PgWorklistStore

log = fsi_logging.get_logger("app")
TEMPLATES = Path(__file__).parent / "templates"
# `_created` series double every counter's output and no dashboard here reads them.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]


def topology_of(settings: IntakeSettings) -> Topology:
    """The topology the intake declares and publishes to."""
    return Topology.of(settings.broker)


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
        clients = Clients.from_file(settings.access.clients_file)
    except OSError as exc:
        raise SettingsError(f"invalid setting FSI_ACCESS_CLIENTS_FILE: {exc.strerror}") from None
    except ClientsFileError as exc:
        raise SettingsError(f"invalid setting FSI_ACCESS_CLIENTS_FILE: {exc}") from None
    shared = clients.development_clients()
    if shared and settings.environment != "development":
        raise SettingsError(
            f"invalid setting FSI_ACCESS_CLIENTS_FILE: client(s) {', '.join(shared)} hold a "
            "published development key (deploy/clients.dev.yaml); give them keys of their own "
            "(python -m services.intake.access new-key), or set FSI_ENVIRONMENT=development"
        )
    return clients


def session_rules(settings: OpsSettings) -> Rules:
    """The operators' session lifetimes."""
    return Rules(
        absolute=dt.timedelta(hours=settings.session_hours),
        idle=dt.timedelta(minutes=settings.session_idle_minutes),
    )


@dataclass(frozen=True, slots=True)
class Parts:
    """What the app's lifespan opens for the handlers: the report store, the operators'
    session store, the link to RabbitMQ (None without a relay: `/readyz` says `disabled`) and
    the operations monitor (None: the overview has no figures to show)."""

    store: ReportStore
    sessions: SessionStore
    link: BrokerLink | None = None
    monitor: Monitor | None = None
    # Verifies people's access tokens (None: no identity provider, people's routes 401).
    people: PeopleVerifier | None = None
    # The work list (None: the triage routes answer 503).
    triage: WorklistStore | None = None
    # Dispositions and approvals (None: their routes answer 503).
    dispositions: DispositionStore | None = None
    # The units' case events (None: their route answers 503).
    cases: CaseEventStore | None = None


# Opens the parts for a settings object and closes them when the app stops.
OpenParts = Callable[[IntakeSettings], AbstractAsyncContextManager[Parts]]


@contextlib.asynccontextmanager
async def open_parts(settings: IntakeSettings) -> AsyncIterator[Parts]:
    """The parts `fsi-intake` runs on: the PostgreSQL pool under both stores, the outbox
    relay (when enabled) and the operations monitor running as tasks, the people verifier
    when FSI_OIDC_ISSUER is set; stopped in order and the pool closed on the way out. A
    database that cannot be reached raises a `StartupError` naming FSI_DB_URL."""
    try:
        pool = await db.create_pool(settings.db)
    except Exception as exc:
        # `fsi-intake` checked PostgreSQL before serving; a worker meeting it gone since
        # says so in the same words (the server prints its own traceback around it).
        error = db.database_error(exc, settings.db.url)
        log.error("intake cannot start", problem=str(error))
        raise error from None
    link = BrokerLink(settings.broker.url, topology_of(settings))
    relay = OutboxRelay(pool, settings.db.session_url, link, settings.relay)
    relay_task: asyncio.Task[None] | None = None
    if settings.relay.enabled:
        relay_task = asyncio.create_task(relay.run(), name="outbox-relay")
    monitor = Monitor(
        pool,
        settings.broker.url,
        topology_of(settings),
        settings.ops,
        link=link if settings.relay.enabled else None,
    )
    monitor_task = asyncio.create_task(monitor.run(), name="ops-monitor")
    # People's tokens are checked against the provider's keys, fetched on first use.
    people = OidcVerifier(settings.oidc) if settings.oidc.issuer else None
    try:
        yield Parts(
            store=PgReportStore(pool),
            sessions=PgSessionStore(pool),
            link=link if settings.relay.enabled else None,
            monitor=monitor,
            triage=PgWorklistStore(pool),
            dispositions=PgDispositionStore(pool),
            people=people,
            cases=PgCaseEvents(pool),
        )
    finally:
        monitor.stop()
        if people is not None:
            await people.aclose()
        if relay_task is not None:
            await _stop(relay, relay_task)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(monitor_task, 10)
        try:
            await asyncio.wait_for(pool.close(), 10)
        except TimeoutError:
            log.warning("database pool did not close in time; terminated")
            pool.terminate()
        log.info("intake stopped")


def create_app(
    settings: IntakeSettings, *, configure_logging: bool = True, parts: OpenParts = open_parts
) -> Litestar:
    """The intake app; nothing connects until it starts, when `parts` opens what the
    handlers use (by default `open_parts`: PostgreSQL, RabbitMQ; a test may pass in-memory
    ones, and gets the same routes, guards, middleware, handlers and limits)."""
    if configure_logging:
        fsi_logging.configure(settings.log)
    clients = load_clients(settings)
    # The rules and closure grounds the triage decides with: checked here, as the clients are.
    rulebook = RuleBook.open(settings.rules)
    grounds = load_grounds(settings.triage)
    metrics.known_sources(clients.named_sources)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with parts(settings) as opened:
            app.state.intake = IntakeState(
                service=IntakeService(
                    store=opened.store,
                    reference=reference.load(),
                    options=Options(
                        accept_synthetic_ids=settings.standardise.accept_synthetic_ids,
                        accept_2032_checksums=settings.standardise.accept_2032_checksums,
                    ),
                ),
                clients=clients,
                limiter=RateLimiter(settings.access.rate_per_second, settings.access.rate_burst),
                link=opened.link,
                monitor=opened.monitor,
                people=opened.people,
                rulebook=rulebook,
                grounds=grounds,
                dispositions=opened.dispositions,
                triage=None if opened.triage is None else Worklist(opened.triage, settings.triage),
            )
            app.state.ops_sessions = Sessions(opened.sessions, session_rules(settings.ops))
            app.state.case_events = opened.cases
            # People's sign-in on the pages (authorization code with PKCE), when a provider is.
            signing = PageSignIn(settings.oidc) if settings.oidc.issuer else None
            app.state.page_sign_in = signing
            log.info("intake started")
            try:
                yield
            finally:
                if signing is not None:
                    await signing.aclose()

    handlers: list[Any] = [
        api.ReportsController,
        api.SourcesController,
        cases_api.CaseEventsController,
        health.healthz,
        health.readyz,
        metrics.endpoint,
        ops_api.OpsController,
        signin_api.SignInController,
        *triage_routes.HANDLERS,
        *triage_pages.HANDLERS,
    ]
    app = Litestar(
        route_handlers=handlers,
        lifespan=[lifespan],
        middleware=[
            http_policy.one_authorization,
            metrics.http_metrics,
            DefineMiddleware(
                body.read_before_answering, seconds=settings.http.body_timeout_seconds
            ),
        ],
        after_exception=[problems.count_refusal],
        # Every answer, a route's or not (404, 405), passes here on its way out.
        before_send=[http_policy.secure_headers],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        plugins=[ProblemDetailsPlugin(ProblemDetailsConfig())],
        exception_handlers={
            HTTPException: problems.http_error,
            Refusal: refusal_response,
            PageForbidden: signin_api.forbidden_page,
            asyncpg.PostgresConnectionError: problems.database_unavailable,
            # A restart or shutdown of PostgreSQL (57P01-57P03), or no connection slot left.
            asyncpg.exceptions.OperatorInterventionError: problems.database_unavailable,
            asyncpg.exceptions.InsufficientResourcesError: problems.database_unavailable,
            **dict.fromkeys(db.CONNECTION_ERRORS, problems.database_unavailable),
            Exception: problems.internal_error,
        },
        # Every route; the batch route alone takes more (api.ReportsController.submit_batch).
        request_max_body_size=settings.http.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="FSI intake",
            version="1.0.0",
            description="Felles straffesaksinntak: crime reports in, standardised, routed.",
            path="/schema",
            openapi_router=openapi.documents_router("/schema"),
            render_plugins=openapi_renderings.renderings(settings.environment),
        ),
        logging_config=None,
        debug=False,
    )
    app.state.limits = HttpLimits.of(settings.http)
    app.state.ops_page = OpsPage.of(settings.ops)
    openapi.complete(app, settings.http.max_batch_items)
    return app
