"""Who may call a route: Litestar guards that let a client in by its API key (or an
operator person by the session cookie of `/ops`, or on a route people read too, a person of the
intake by their access token), and the dependencies that hand a handler the one let in.

A guard runs before its handler reads anything, so a refusal comes in this order: the key
(401), the client's rate (429, the API's routes; not the operations routes), the route's
format, the operator or the unit role (403); the body's type, size and content come after. Every
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
from services.intake.page_signin import PageForbidden, page_person
from services.intake.people import Person, PersonRole, admit_person, forbidden_role
from services.intake.problems import (
    forbidden_format,
    not_operator,
    problem,
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
_OPERATOR = "fsi_operator"


def _bearer(connection: Connection) -> Client | None:
    # Several Authorization fields never reach here (http_policy.one_authorization: 400).
    return state_of(connection).clients.authenticate(connection.headers.get("authorization"))


def _request_state(connection: Connection) -> dict[str, Any]:
    # The request's state as the dict it is: `connection.state` builds a new State around it
    # on every access, a cost on every request.
    state: dict[str, Any] = connection.scope["state"]
    return state


async def _admit(connection: Connection, client: Client | None = None) -> Client:
    client = client or _bearer(connection)
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


async def requires_unit(connection: Connection, _: BaseRouteHandler) -> None:
    """Route guard: `requires_client` (401, 429), and a client with the `unit` role (403
    otherwise): a unit's system, which reports case events of its own units (which unit an
    event names is the handler's to check, once the body is read)."""
    client = await _admit(connection)
    if not client.is_unit:
        raise problem(
            403, "forbidden-role", "Units only", "this client is not a unit's (role `unit`)"
        )


async def requires_operator(connection: Connection, handler: BaseRouteHandler) -> None:
    """Route guard: an operator. By a client's bearer key (401 otherwise, and 403 for a
    client that is not an operator); on a page (`opt` `sign_in`) also a person signed in
    with the `operator` role (`page_signin`); one without a session is sent to sign in
    (`SignInRequired`: 303 to `/ops/login`), one without the role refused (403)."""
    client = _bearer(connection)
    if client is None and handler.opt.get(SIGN_IN):
        person = await page_person(connection, "ops")
        if PersonRole.OPERATOR not in person.roles:
            raise PageForbidden("ops", "operator")
        _request_state(connection)[_OPERATOR] = person.subject
        return
    if client is None:
        raise unauthenticated("an operator client")
    if not client.is_operator:
        raise not_operator()
    state = _request_state(connection)
    state[_CALLER] = client
    state[_OPERATOR] = client.id


def operator_of(connection: Connection) -> str:
    """Who `requires_operator` let in: the client's id, or the signed-in person's subject."""
    who: str = _request_state(connection)[_OPERATOR]
    return who


def _jwt_shaped(connection: Connection) -> bool:
    # A JWS in compact form is three dot-separated parts; an API key has no dot
    # (`secrets.token_urlsafe`), so a token that is no key and has this shape is a person's.
    _, _, token = (connection.headers.get("authorization") or "").partition(" ")
    return token.strip().count(".") == 2


async def requires_client_or_person(connection: Connection, _: BaseRouteHandler) -> None:
    """Route guard: a client by its API key, as `requires_client` (401, 429); or else a
    person by the identity provider's access token (a JWT, tried only when the bearer token
    is no client's key) with the `assessor` or `prosecutor` role (401 naming the check that
    failed, 403 without the role). The handler's `reader` is the one let in."""
    client = _bearer(connection)
    if client is not None or not _jwt_shaped(connection):
        await _admit(connection, client)
        return
    person = await admit_person(connection)
    if not person.works_triage:
        raise forbidden_role("assessor or prosecutor")
    _request_state(connection)[_CALLER] = person


def _client(request: Request[Any, Any, Any]) -> Client:
    """The client a guard of the route let in."""
    client: Client = _request_state(request)[_CALLER]
    return client


# A handler's `client` parameter, on a route guarded by one of the guards above: the
# controller's `dependencies = CLIENT`, the parameter `client: Caller`.
CLIENT = {"client": Provide(_client, sync_to_thread=False)}
Caller: TypeAlias = NamedDependency[Client]


class Admitted:
    """Who `requires_client_or_person` let in: `who`, a client or a person. A plain class,
    not the union itself: Litestar checks a dependency's value against its type with
    msgspec, which takes no union of two untagged Structs."""

    __slots__ = ("who",)

    def __init__(self, who: Client | Person) -> None:
        self.who = who


def _reader(request: Request[Any, Any, Any]) -> Admitted:
    """The client or person `requires_client_or_person` let in."""
    return Admitted(_request_state(request)[_CALLER])


# A handler's `reader` parameter, on a route guarded by `requires_client_or_person`: the
# route's `dependencies = READER`, the parameter `reader: Reader` (`reader.who`).
READER = {"reader": Provide(_reader, sync_to_thread=False)}
Reader: TypeAlias = NamedDependency[Admitted]
