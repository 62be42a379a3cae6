"""`fsi-intake`: check the settings and PostgreSQL, migrate, then serve the API (uvicorn).

What stops a start (a setting, the clients file, PostgreSQL out of reach, a migration
refused, FSI_HTTP_HOST:FSI_HTTP_PORT that cannot be listened on) is one line on stderr and an
exit code (services.common.startup), before the intake says it is starting. RabbitMQ is not
needed to start: reports wait in the outbox until it answers, and `/readyz` says what the
broker is.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import urllib.parse

import uvicorn
from litestar import Litestar
from uvicorn.supervisors import Multiprocess

from services.common import broker, db, startup
from services.common import logging as fsi_logging
from services.common import settings as fsi_settings
from services.intake.app import create_app, load_clients
from services.intake.connections import BoundedHttpToolsProtocol, ServerConfig
from services.intake.settings import IntakeSettings
from services.intake.triage.grounds import load_grounds
from services.intake.triage.rulebook import RuleBook


def _settings() -> IntakeSettings:
    return startup.settings_or_exit(IntakeSettings, "fsi-intake")


def app_factory() -> Litestar:
    """The app of one worker process, from the environment (uvicorn `--factory`)."""
    try:
        return create_app(_settings())
    except fsi_settings.SettingsError as exc:
        sys.exit(str(exc))


async def check_database(settings: IntakeSettings) -> None:
    """Migrate when the settings say so, and open (and close) a pool as the app will: a
    `StartupError` naming the setting, host and port when PostgreSQL cannot be used."""
    pool = await db.open_database(
        settings.db,
        # Outside development only a login of the service's own role may be used.
        service_role=None if settings.environment == "development" else "fsi_intake",
    )
    await pool.close()


def check_management_url(url: str) -> None:
    """A `StartupError` unless FSI_OPS_MANAGEMENT_URL is empty or an http(s) URL with a host
    and, when it names one, a port from 1 to 65535 (read by the operations overview, which
    would otherwise fail on it at every reading)."""
    if not url:
        return
    problem = startup.port_problem(url)
    if problem is not None:
        raise startup.StartupError(f"FSI_OPS_MANAGEMENT_URL: {problem}", startup.EXIT_CONFIG)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise startup.StartupError(
            "FSI_OPS_MANAGEMENT_URL is not a RabbitMQ management URL "
            "(http://user:password@host:15672)",
            startup.EXIT_CONFIG,
        )


def serve(settings: IntakeSettings, sock: socket.socket) -> None:
    """Serve the app on the socket `startup.listen` bound (uvicorn, FSI_HTTP_WORKERS
    processes); exits with uvicorn's status 3 when the app itself cannot start."""
    http = settings.http
    config = ServerConfig(
        "services.intake.main:app_factory",
        factory=True,
        workers=http.workers,
        host=http.host,
        port=http.port,
        access_log=False,
        log_config=None,
        server_header=False,
        # httptools (llhttp), with the head's size and time bounds of FSI_HTTP_* it lacks.
        http=BoundedHttpToolsProtocol,
        max_header_bytes=http.max_header_bytes,
        header_timeout_seconds=http.header_timeout_seconds,
        timeout_keep_alive=http.keep_alive_seconds,
        limit_concurrency=http.max_connections,
        timeout_graceful_shutdown=http.shutdown_seconds,
    )
    server = uvicorn.Server(config)
    try:
        if config.workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    if config.workers == 1 and not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE: the app's start-up failed (logged)


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="fsi-intake",
        description=(
            "Serve the FSI intake API: crime reports in over HTTP, checked, standardised, "
            "stored with an outbox row and published to RabbitMQ for routing."
        ),
        epilog=(
            "Settings come from the environment: FSI_DB_URL, FSI_BROKER_URL, "
            "FSI_BROKER_PREFIX, FSI_ACCESS_CLIENTS_FILE (required), FSI_HTTP_HOST, "
            "FSI_HTTP_PORT, FSI_HTTP_WORKERS (README.md, Settings). Exit codes: 69 PostgreSQL "
            "unreachable or FSI_HTTP_PORT in use, 78 a setting, file, login or database is "
            "wrong."
        ),
    )


def main() -> None:
    """Check settings, clients file and PostgreSQL (exit with one line when one fails), then
    serve."""
    _parser().parse_args()
    settings = _settings()
    try:
        load_clients(settings)  # fail here, clearly, not in a worker
        RuleBook.open(settings.rules)
        load_grounds(settings.triage)
        broker.check_url(settings.broker.url)
        check_management_url(settings.ops.management_url)
    except fsi_settings.SettingsError as exc:
        startup.fail("fsi-intake", startup.StartupError(str(exc), startup.EXIT_CONFIG))
    except startup.StartupError as exc:
        startup.fail("fsi-intake", exc)
    fsi_logging.configure(settings.log)
    try:
        asyncio.run(check_database(settings))
        sock = startup.listen(
            settings.http.host, settings.http.port, "FSI_HTTP_HOST", "FSI_HTTP_PORT"
        )
    except startup.StartupError as exc:
        startup.fail("fsi-intake", exc)
    print(
        f"FSI intake starting on http://{startup.address(settings.http.host, settings.http.port)} "
        f"(OpenAPI: /schema/openapi.json, workers: {settings.http.workers})",
        flush=True,
    )
    serve(settings, sock)


if __name__ == "__main__":
    main()
