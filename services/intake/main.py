"""`fsi-intake`: migrate, declare the topology, serve the API (uvicorn)."""

from __future__ import annotations

import sys

import uvicorn
from litestar import Litestar

from services.common import logging as fsi_logging
from services.common import settings as fsi_settings
from services.intake.app import create_app, load_clients
from services.intake.settings import IntakeSettings


def _settings() -> IntakeSettings:
    try:
        return fsi_settings.load(IntakeSettings)
    except fsi_settings.SettingsError as exc:
        sys.exit(str(exc))


def app_factory() -> Litestar:
    """The app of one worker process, from the environment (uvicorn `--factory`)."""
    try:
        return create_app(_settings())
    except fsi_settings.SettingsError as exc:
        sys.exit(str(exc))


def main() -> None:
    """Load settings (exit with a clear message when invalid) and serve."""
    settings = _settings()
    fsi_logging.configure(settings.log)
    try:
        load_clients(settings)  # fail here, clearly, not in a worker
    except fsi_settings.SettingsError as exc:
        sys.exit(str(exc))
    print(
        f"FSI intake listening on http://{settings.http.host}:{settings.http.port} "
        f"(OpenAPI: /schema/openapi.json, workers: {settings.http.workers})",
        flush=True,
    )
    uvicorn.run(
        "services.intake.main:app_factory",
        factory=True,
        workers=settings.http.workers,
        host=settings.http.host,
        port=settings.http.port,
        access_log=False,
        log_config=None,
        server_header=False,
    )


if __name__ == "__main__":
    main()
