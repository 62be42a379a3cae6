"""Health: `/healthz` (the process answers) and `/readyz` (the database answers; the broker's
state beside it), both for GET and HEAD."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import msgspec
from litestar import Request, Response, route
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from services.intake.api import GET_AND_HEAD
from services.intake.state import state_of


class Health(msgspec.Struct):
    """Readiness: the database decides; the broker is reported beside it (`up`, `down`,
    `mismatch`: reachable but holding a queue or exchange of ours with other arguments, or
    `disabled` without a relay), with why it is not up (no credentials, no report data)."""

    status: str
    database: str
    broker: Literal["up", "down", "mismatch", "disabled"]
    broker_problem: str | None = None


@route("/healthz", http_method=GET_AND_HEAD, tags=["health"], summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@route(
    "/readyz", http_method=GET_AND_HEAD, tags=["health"], summary="Ready when the database answers"
)
async def readyz(request: Request[Any, Any, Any]) -> Response[Health]:
    state = state_of(request)
    try:
        database_up = await asyncio.wait_for(state.service.store.ping(), 2)
    except Exception:
        database_up = False
    link = state.link
    # Accepting never needs the broker (reports wait in the outbox), so it never decides
    # readiness; what it is and why is shown beside.
    health = Health(
        status="ready" if database_up else "not ready",
        database="up" if database_up else "down",
        broker="disabled" if link is None else link.state,
        broker_problem=None if link is None else link.problem,
    )
    return Response(
        health, status_code=HTTP_200_OK if database_up else HTTP_503_SERVICE_UNAVAILABLE
    )
