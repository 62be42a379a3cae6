"""What the triage tests through the app share: the intake on the real PostgreSQL with
people by a test verifier, their tokens, its pages for people signed in through the OIDC
test provider, and a report accepted over the API waiting on the work list as the router
leaves it."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.intake.app import Parts, create_app, open_parts
from services.intake.people import Person, PersonRole, TokenRefused
from services.intake.settings import IntakeSettings, OpsSettings
from tests.integration.conftest import unique
from tests.support.clients import auth

A, P = PersonRole.ASSESSOR, PersonRole.PROSECUTOR
# The development persons (deploy/oidc) by subject: the real provider's tokens are tested
# with the OIDC module and the end-to-end tests.
PEOPLE = {
    "anne": Person("anne", frozenset({A}), frozenset({"oslo"})),
    "per": Person("per", frozenset({A}), frozenset({"vest"})),
    "pia": Person("pia", frozenset({P}), frozenset({"oslo"})),
    "paal": Person("paal", frozenset({P}), frozenset({"oslo"})),
    "nina": Person("nina", frozenset({P}), national=True),
    "ola": Person("ola", frozenset({PersonRole.OPERATOR})),
}
RANK = {"critical": 3, "high": 2, "normal": 1, "low": 0}  # work_items.priority_rank, by design


def token(subject: str) -> str:
    """A token in a JWT's shape (three parts), as the identity provider's are: a route that
    takes an API key too tells a person's token from a key by it."""
    return f"eyJ0ZXN0IjoxfQ.{subject}.c2ln"


class Verifier:
    """People by token: the token's middle part is the person's subject."""

    async def person(self, text: str) -> Person:
        """The person of `PEOPLE` the token names; `TokenRefused` for any other token."""
        parts = text.split(".")
        subject = parts[1] if len(parts) == 3 else ""
        if text != token(subject) or subject not in PEOPLE:
            raise TokenRefused("unknown token")
        return PEOPLE[subject]


def bearer(subject: str, key: str | None = None) -> dict[str, str]:
    """The headers of a request by `subject` (any name: an unknown one is refused), with an
    `Idempotency-Key` when `key` is given."""
    headers = {"Authorization": f"Bearer {token(subject)}"}
    return headers | ({"Idempotency-Key": key} if key else {})


@pytest.fixture
async def app(
    intake_settings: Callable[..., IntakeSettings],
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The intake on the real database (as its own login), no relay, people by `Verifier`."""

    @contextlib.asynccontextmanager
    async def parts(settings: IntakeSettings) -> AsyncIterator[Parts]:
        async with open_parts(settings) as opened:
            yield dataclasses.replace(opened, people=Verifier())

    settings = intake_settings(enabled=False)
    async with AsyncTestClient(create_app(settings, configure_logging=False, parts=parts)) as c:
        yield c


@pytest.fixture
async def pages(
    intake_settings: Callable[..., IntakeSettings], oidc_issuer: str
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The intake's pages at the address the OIDC test provider sends people back to (its
    session cookies sent over plain HTTP there), no relay."""
    settings = msgspec.structs.replace(
        intake_settings(enabled=False), ops=OpsSettings(cookie_secure=False)
    )
    app = create_app(settings, configure_logging=False)
    async with AsyncTestClient(app, base_url="http://127.0.0.1:8000") as client:
        yield client


def report_body(
    municipality: str = "9999", offences: tuple[str, ...] = ("strl-321",)
) -> dict[str, Any]:
    """A canonical report of the client `alpha` with no personal numbers: a bicycle theft
    (straffeloven § 321) in `municipality` (9999: none has that number) unless other
    offence codes are given."""
    return {
        "source": "alpha-src",
        "external_id": unique(),
        "reported_at": "2026-11-26T22:05:00Z",
        "incident": {
            "occurred_from": "2026-11-26T21:40:00+01:00",
            "municipality": municipality,
            "description": "Sykkel stjålet fra bakgården.",
        },
        "offences": [{"code": code} for code in offences],
        "persons": [{"role": "victim"}],
    }


async def waiting(
    client: AsyncTestClient[Any],
    owner: asyncpg.Connection,
    *,
    district: str | None = "oslo",
    priority: str = "normal",
    reason: str = "quality_issues",
    **report: Any,
) -> uuid.UUID:
    """A report (`report_body(**report)`) accepted by the intake and waiting on `district`'s
    work list (None: no district's) for `reason`, as the router leaves it; its id."""
    answer = await client.post("/v1/reports", json=report_body(**report), headers=auth("alpha"))
    assert answer.status_code == 202, answer.text
    report_id = uuid.UUID(answer.json()["report_id"])
    await owner.execute(
        "INSERT INTO work_items (report_id, district, source, reason, priority, priority_rank,"
        " received_at, waiting_since) SELECT id, $2, source, $3, $4, $5,"
        " received_at, now() FROM reports WHERE id = $1",
        report_id,
        district,
        reason,
        priority,
        RANK[priority],
    )
    return report_id


async def claim(client: AsyncTestClient[Any], who: str, report_id: uuid.UUID) -> str:
    """`who` claims the report (200 asserted); the claim's token."""
    answer = await client.post(f"/v1/triage/{report_id}/claim", headers=bearer(who))
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token
