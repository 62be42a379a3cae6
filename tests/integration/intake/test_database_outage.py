"""PostgreSQL unreachable: the intake answers 503 (nothing stored, send again), then recovers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.common.settings import DatabaseSettings
from services.intake import store
from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from tests.integration.conftest import unique
from tests.support.clients import auth
from tests.support.proxy import TcpProxy

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "report.bicycle-theft.json"


def a_report() -> dict[str, Any]:
    return dict(
        json.loads(EXAMPLE.read_text("utf-8")), source="alpha-src", external_id=unique("db")
    )


async def test_database_outage_is_a_503_and_passes(
    database_url: str, intake_settings: Callable[..., IntakeSettings]
) -> None:
    target = urlsplit(database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    through_proxy = database_url.replace(f":{target.port or 5432}", f":{proxy.port}", 1)
    settings = intake_settings()
    settings = msgspec.structs.replace(
        settings, db=DatabaseSettings(url=through_proxy, pool_min=1, pool_max=2)
    )
    try:
        async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
            assert (
                await client.post("/v1/reports", json=a_report(), headers=auth("alpha"))
            ).status_code == 202
            await proxy.cut()
            down = await client.post("/v1/reports", json=a_report(), headers=auth("alpha"))
            not_ready = await client.get("/readyz")
            await proxy.restore()
            body = a_report()
            statuses = [
                (await client.post("/v1/reports", json=body, headers=auth("alpha"))).status_code
                for _ in range(3)
            ]
    finally:
        await proxy.stop()
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert down.headers["retry-after"] == "5"
    assert not_ready.status_code == 503
    assert not_ready.json()["database"] == "down"
    # The first call after the outage may still meet a dead pooled connection; it is a 503
    # too, never a 500, and the same report sent again is accepted exactly once.
    assert statuses[-2:] in ([202, 200], [200, 200])
    assert set(statuses) <= {202, 200, 503}


@pytest.mark.parametrize(
    "error",
    [
        # Raised by asyncpg when a statement meets a connection PostgreSQL has just closed
        # (seen once in a fault run while PostgreSQL restarted).
        asyncpg.InternalClientError("cannot switch to state 15; another operation is in progress"),
        asyncpg.InterfaceError("connection is closed"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed"),
        TimeoutError(),
    ],
    ids=lambda error: type(error).__name__,
)
async def test_a_lost_database_connection_is_a_503(
    error: Exception,
    intake_settings: Callable[..., IntakeSettings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def lost(*_: Any) -> None:
        raise error

    async with AsyncTestClient(create_app(intake_settings(), configure_logging=False)) as client:
        monkeypatch.setattr(store.PgReportStore, "insert_reports", lost)
        answer = await client.post("/v1/reports", json=a_report(), headers=auth("alpha"))
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "5"
