"""What the intake's handlers share, put in the app's state once: the parts and the limits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from services.intake.access import Clients, RateLimiter
from services.intake.brokerlink import BrokerLink
from services.intake.ops import Monitor
from services.intake.service import IntakeService

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection

    from services.intake.people import PeopleVerifier
    from services.intake.settings import HttpSettings, OpsSettings
    from services.intake.triage.disposition_model import DispositionStore
    from services.intake.triage.grounds import ClosureGrounds
    from services.intake.triage.rulebook import RuleBook
    from services.intake.triage.worklist import Worklist


class HttpLimits(msgspec.Struct, frozen=True):
    """What one request may send: body sizes in bytes (one report, a batch), reports in a
    batch, and the seconds a body has to arrive in (FSI_HTTP_*)."""

    max_body_bytes: int
    max_batch_body_bytes: int
    max_batch_items: int
    body_timeout_seconds: float

    @classmethod
    def of(cls, settings: HttpSettings) -> HttpLimits:
        """The limits of the HTTP settings."""
        return cls(
            max_body_bytes=settings.max_body_bytes,
            max_batch_body_bytes=settings.max_batch_body_bytes,
            max_batch_items=settings.max_batch_items,
            body_timeout_seconds=settings.body_timeout_seconds,
        )


class OpsPage(msgspec.Struct, frozen=True):
    """The operations page: whether its session cookie is `Secure`, and the seconds between
    its updates (the monitor's interval, at least 5)."""

    cookie_secure: bool
    refresh_seconds: int

    @classmethod
    def of(cls, settings: OpsSettings) -> OpsPage:
        """The page's values of the operations settings."""
        return cls(
            cookie_secure=settings.cookie_secure,
            refresh_seconds=max(5, round(settings.interval_seconds)),
        )


class IntakeState(msgspec.Struct):
    """The parts the handlers use, built at start-up (with the database pool)."""

    service: IntakeService
    clients: Clients
    limiter: RateLimiter
    link: BrokerLink | None
    monitor: Monitor | None = None
    # Verifies people's access tokens (None: no identity provider configured, so every
    # person's route answers 401).
    people: PeopleVerifier | None = None
    # The work list of reports waiting for a person (None: the triage routes answer 503).
    triage: Worklist | None = None
    # The rules the triage decides and explains with, and the closure grounds; loaded with
    # the app (None only in a state a test builds by hand).
    rulebook: RuleBook | None = None
    grounds: ClosureGrounds | None = None
    # Where dispositions and approvals run (None: their routes answer 503).
    dispositions: DispositionStore | None = None


def state_of(connection: ASGIConnection[Any, Any, Any, Any]) -> IntakeState:
    """The app's parts; only once the app has started."""
    state: IntakeState = connection.app.state.intake
    return state


def limits_of(connection: ASGIConnection[Any, Any, Any, Any]) -> HttpLimits:
    """The app's HTTP limits."""
    limits: HttpLimits = connection.app.state.limits
    return limits


def ops_page_of(connection: ASGIConnection[Any, Any, Any, Any]) -> OpsPage:
    """The app's operations page values."""
    page: OpsPage = connection.app.state.ops_page
    return page
