"""Who may call a route: Litestar guards that let a client in by its API key (or an
operator by the session cookie of `/ops`), and the dependency that hands a handler that
client.

A guard runs before its handler reads anything, so a refusal comes in this order: the key
(401), the client's rate (429, the API's routes; not the operations routes), the route's
format or the operator role (403); the body's type, size and content come after. Every
guard is a coroutine function: Litestar runs a plain function guard in a worker thread, a
thread hop on every request.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler

from services.intake.access import Client
from services.intake.adapters import ADAPTERS
from services.intake.ops_signin import SignInRequired, session_operator
from services.intake.problems import (
    forbidden_format,
    not_operator,
    rate_limited,
    unauthenticated,
)
from services.intake.service import CANONICAL
from services.intake.state import state_of

Connection = ASGIConnection[Any, Any, Any, Any]
# A route's `opt`: the format of the reports it takes (else the path's `format_name`), and
# for a page, that a person without a session is sent to sign in rather than refused.
FORMAT = "report_format"
SIGN_IN = "sign_in"
FORMATS = frozenset({CANONICAL, *ADAPTERS})
# Where the client a guard let in is kept for the handler (`fsi_client`, its id, is what
# a refusal's log line names).
_CALLER = "fsi_caller"


def _bearer(connection: Connection) -> Client | None:
    # Several Authorization fields never reach here (http_policy.one_authorization: 400).
    return state_of(connection).clients.authenticate(connection.headers.get("authorization"))


def _request_state(connection: Connection) -> dict[str, Any]:
    # The request's state as the dict it is: `connection.state` builds a new State around it
    # on every access, a cost on every request.
    state: dict[str, Any] = connection.scope["state"]
    return state


async def _admit(connection: Connection) -> Client:
    client = _bearer(connection)
    if client is None:
        raise unauthenticated()
    state = _request_state(connection)
    state["fsi_client"] = client.id  # a refusal after this (403) is logged with the id
    wait = state_of(connection).limiter.take(client)
    if wait is not None:
        raise rate_limited(wait)
    state[_CALLER] = client
    return client


async def requires_client(connection: Connection, _: BaseRouteHandler) -> None:
    """Route guard: a client's API key as a bearer token (401 with `WWW-Authenticate`
    otherwise), within the client's rate (429 with `Retry-After`, a token taken)."""
    await _admit(connection)


async def requires_submitter(connection: Connection, handler: BaseRouteHandler) -> None:
    """Route guard: `requires_client`, and a client that may send reports in the route's
    format (its `opt` names it, else the path's `format_name`; 403 otherwise). A format that
    does not exist is left to the handler (404), as a path that does not exist would be."""
    client = await _admit(connection)
    name = handler.opt.get(FORMAT) or connection.path_params.get("format_name")
    if name in FORMATS and not client.may_use_format(name):
        raise forbidden_format(name)


async def requires_operator(connection: Connection, handler: BaseRouteHandler) -> None:
    """Route guard: an operator client. By its bearer key (401 otherwise, and 403 for a
    client that is not an operator); on a page (`opt` `sign_in`) also by the session cookie,
    and a person with neither is sent to sign in (`SignInRequired`: 303 to `/ops/login`)."""
    client = _bearer(connection)
    if handler.opt.get(SIGN_IN):
        client = client if client is not None else await session_operator(connection)
        if client is None:
            raise SignInRequired
    elif client is None:
        raise unauthenticated("an operator client")
    if not client.is_operator:
        raise not_operator()
    _request_state(connection)[_CALLER] = client


def _client(request: Request[Any, Any, Any]) -> Client:
    """The client a guard of the route let in."""
    client: Client = _request_state(request)[_CALLER]
    return client


# A handler's `client` parameter, on a route guarded by one of the guards above: the
# controller's `dependencies = CLIENT`, the parameter `client: Caller`.
CLIENT = {"client": Provide(_client, sync_to_thread=False)}
Caller: TypeAlias = NamedDependency[Client]
