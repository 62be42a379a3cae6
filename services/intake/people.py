"""People of the intake: who a signed-in person is, and the guards that let them in.

A person (an intake officer, `assessor`; a police lawyer, `prosecutor`; an `operator`) is
known by the identity provider's access token (OpenID Connect), never by a shared key: the
`PeopleVerifier` of the app's state (`services.intake.oidc`) turns a bearer token into a
`Person` or refuses it. A person is accountable by their subject id (`sub`); their name, when
the token carries one, is for the page they see and is never logged or stored.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol, TypeAlias

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers.base import BaseRouteHandler

from services.intake.problems import problem
from services.intake.state import state_of

Connection = ASGIConnection[Any, Any, Any, Any]
# Where the person a guard let in is kept for the handler; `fsi_person` (subject id and
# role) is what a refusal's log line may name.
_PERSON = "fsi_person_admitted"
BEARER_TOKEN = {"WWW-Authenticate": 'Bearer realm="fsi-intake", error="invalid_token"'}


class PersonRole(enum.StrEnum):
    """What a person may do: an intake officer assesses, a police lawyer also approves."""

    ASSESSOR = "assessor"
    PROSECUTOR = "prosecutor"
    OPERATOR = "operator"


class Person(msgspec.Struct, frozen=True):
    """A signed-in person: `subject` (the provider's `sub`), roles, the districts (slugs) they
    work for, `national` when they may see every district, and a display `name` (or None)."""

    subject: str
    roles: frozenset[PersonRole]
    districts: frozenset[str] = frozenset()
    national: bool = False
    name: str | None = None

    @property
    def is_prosecutor(self) -> bool:
        """A police lawyer (påtalejurist): may approve closures, transfers out, downgrades."""
        return PersonRole.PROSECUTOR in self.roles

    @property
    def acting_role(self) -> str:
        """The role a triage act is recorded under: `prosecutor` if they are one, else
        `assessor`."""
        return PersonRole.PROSECUTOR.value if self.is_prosecutor else PersonRole.ASSESSOR.value

    @property
    def works_triage(self) -> bool:
        """An assessor or a prosecutor."""
        return bool(self.roles & {PersonRole.ASSESSOR, PersonRole.PROSECUTOR})

    def may_see(self, district: str | None) -> bool:
        """Whether a report of `district` is theirs to work: their own district, every
        district for a national role, and a report no district could be placed for (it is
        every assessor's until someone places it)."""
        return self.national or district is None or district in self.districts


class TokenRefused(Exception):
    """The bearer token is not one to trust; `why` says which check failed (no token text)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class ProviderUnavailable(Exception):
    """The identity provider's keys could not be had (it did not answer, or answered
    nonsense): the token is neither good nor bad yet, so 503 with `Retry-After`, not 401."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("identity provider unavailable")
        self.retry_after = retry_after


class PeopleVerifier(Protocol):
    """Turns an access token into a person: `TokenRefused` when expired, wrongly signed, of
    another issuer or audience, of an algorithm not allowed, or unreadable;
    `ProviderUnavailable` when the provider's keys cannot be had."""

    async def person(self, token: str) -> Person: ...


def unauthenticated_person(why: str) -> Exception:
    """401 with `WWW-Authenticate: Bearer ... error="invalid_token"`: `why` names the check."""
    return problem(
        401,
        "unauthenticated",
        "Not authenticated",
        f"send `Authorization: Bearer <access token>` of the identity provider ({why})",
        headers=BEARER_TOKEN,
    )


def forbidden_role(wanted: str) -> Exception:
    """403: a person without the role the route needs."""
    return problem(403, "forbidden-role", "Role not allowed", f"this needs the {wanted} role")


def _token(connection: Connection) -> str | None:
    # Several Authorization fields never reach here (http_policy.one_authorization: 400).
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def admit_person(connection: Connection) -> Person:
    """The person of the request's bearer token (401 when none or refused)."""
    token = _token(connection)
    if token is None:
        raise unauthenticated_person("no bearer token")
    verifier = state_of(connection).people
    if verifier is None:
        raise unauthenticated_person("no identity provider is configured")
    if token.count(".") != 2:
        # A person's access token is a JWT (three dot-separated parts); an API key is not.
        raise unauthenticated_person(
            "this route takes a person's access token (a JWT) of the identity provider, "
            "not an API key"
        )
    try:
        person = await verifier.person(token)
    except TokenRefused as refused:
        raise unauthenticated_person(refused.why) from None
    except ProviderUnavailable as unavailable:
        raise problem(
            503,
            "identity-provider-unavailable",
            "Identity provider unavailable",
            "the identity provider's signing keys cannot be had now; try again later",
            headers={"Retry-After": str(unavailable.retry_after)},
        ) from None
    state: dict[str, Any] = connection.scope["state"]
    state["fsi_person"] = f"{person.subject} ({person.acting_role})"
    state[_PERSON] = person
    return person


async def requires_triage(connection: Connection, _: BaseRouteHandler) -> None:
    """Route guard: a person with the `assessor` or `prosecutor` role (401, 403)."""
    person = await admit_person(connection)
    if not person.works_triage:
        raise forbidden_role("assessor or prosecutor")


async def requires_prosecutor(connection: Connection, _: BaseRouteHandler) -> None:
    """Route guard: a person with the `prosecutor` role (401, 403)."""
    person = await admit_person(connection)
    if not person.is_prosecutor:
        raise forbidden_role("prosecutor")


def _person(request: Request[Any, Any, Any]) -> Person:
    """The person a guard of the route let in."""
    state: dict[str, Any] = request.scope["state"]
    person: Person = state[_PERSON]
    return person


# A handler's `person` parameter, on a route guarded by one of the guards above: the
# controller's `dependencies = PERSON`, the parameter `person: Signed`.
PERSON = {"person": Provide(_person, sync_to_thread=False)}
Signed: TypeAlias = NamedDependency[Person]
