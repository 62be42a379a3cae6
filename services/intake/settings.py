"""The intake process's settings, one concern per struct (`FSI_HTTP_PORT`, `FSI_RELAY_...`)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from services.common.settings import (
    BrokerSettings,
    DatabaseSettings,
    Environment,
    LogSettings,
    RulesSettings,
)


class HttpSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the API listens and what one request may carry."""

    host: str = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535)] = 8000
    max_body_bytes: Annotated[int, Meta(ge=1024)] = 1_048_576
    max_batch_body_bytes: Annotated[int, Meta(ge=1024)] = 64 * 1_048_576
    max_batch_items: Annotated[int, Meta(ge=1, le=10_000)] = 1000
    workers: Annotated[int, Meta(ge=1, le=64)] = 1
    # A body must arrive within this, so a client that stalls or dribbles holds no handler.
    body_timeout_seconds: Annotated[float, Meta(gt=0, le=600)] = 30.0
    # The request line and header fields together: more is refused (431) and the connection
    # closed, before more of it is held (services/intake/connections.py).
    max_header_bytes: Annotated[int, Meta(ge=4096, le=1_048_576)] = 16_384
    # A connection must deliver a whole request head within this after it opens or after
    # the previous answer, however slowly it sends, else it is closed (408).
    header_timeout_seconds: Annotated[float, Meta(gt=0, le=300)] = 10.0
    # An idle keep-alive connection is closed after this (uvicorn's timeout_keep_alive).
    keep_alive_seconds: Annotated[int, Meta(ge=1, le=300)] = 5
    # Connections and requests at once per process; past it new requests get a 503.
    max_connections: Annotated[int, Meta(ge=1, le=100_000)] = 1000
    # A stopping process waits at most this for the requests under way.
    shutdown_seconds: Annotated[int, Meta(ge=1, le=600)] = 30


class AccessSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """API clients and their limits."""

    # No default: a deployment that forgot it must not start with the development keys.
    clients_file: str = ""
    rate_per_second: Annotated[float, Meta(gt=0)] = 50.0
    rate_burst: Annotated[int, Meta(ge=1)] = 100


class RelaySettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The outbox relay that publishes committed reports to RabbitMQ."""

    enabled: bool = True
    poll_seconds: Annotated[float, Meta(gt=0, le=60)] = 1.0
    batch_size: Annotated[int, Meta(ge=1, le=5000)] = 200
    # After a wake-up, wait this long so one claim takes many rows, not one per report.
    linger_seconds: Annotated[float, Meta(ge=0, le=1)] = 0.02
    reconnect_seconds: Annotated[float, Meta(gt=0, le=60)] = 2.0
    # A published row's copy of the report (its message) is cleared after this long; the
    # row itself stays, for the report's status.
    keep_published_hours: Annotated[float, Meta(ge=0, le=24 * 366)] = 24.0
    purge_every_seconds: Annotated[float, Meta(gt=0, le=86400)] = 300.0
    # A claimed row is left to its relay this long (more than a batch's publish timeout of
    # 10 s); if its outcome is never recorded it is claimed again after it.
    claim_seconds: Annotated[float, Meta(ge=0.1, le=3600)] = 30.0
    # Claims that may end without an outcome recorded before the row is set aside.
    max_attempts: Annotated[int, Meta(ge=1, le=1000)] = 10
    # Back-off after a failed publish: doubling from reconnect_seconds up to this.
    retry_max_seconds: Annotated[float, Meta(gt=0, le=3600)] = 60.0


class StandardiseSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What standardisation accepts without a quality issue."""

    accept_synthetic_ids: bool = False
    accept_2032_checksums: bool = True


class OpsSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The operations overview (`/ops`): how often it is read, what it counts, and the
    operators' sessions."""

    interval_seconds: Annotated[float, Meta(ge=1, le=300)] = 10.0
    read_timeout_seconds: Annotated[float, Meta(gt=0, le=60)] = 5.0
    # RabbitMQ's management API (http://user:password@host:15672) when enabled; without it
    # queues are read by passive declares, which cannot count unacknowledged messages.
    management_url: str = ""
    # A case its unit has neither received, returned nor closed this long after it was
    # routed counts as not received (the figures, the gauge and FsiCasesNotReceived).
    not_received_after_seconds: Annotated[int, Meta(ge=1, le=30 * 86400)] = 3600
    cases_shown: Annotated[int, Meta(ge=1, le=200)] = 15
    # An operator's sign-in ends this long after it began, however busy (absolute), and
    # after this long without a request (idle); both are kept in PostgreSQL.
    session_hours: Annotated[float, Meta(gt=0, le=24)] = 8.0
    session_idle_minutes: Annotated[float, Meta(gt=0, le=24 * 60)] = 30.0
    cookie_secure: bool = True


# The JWS algorithms an access token may be signed with: public-key ones only (RFC 7518
# §3.1; EdDSA, RFC 8037; Ed25519, RFC 9864).
SIGNATURE_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)


class OidcSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """People's sign-in with OpenID Connect (`FSI_OIDC_*`): the identity provider whose
    access tokens the intake trusts, and the claims that carry roles and districts. No
    issuer: no person can sign in (their routes answer 401)."""

    issuer: str = ""
    # The `aud` an access token must name.
    audience: str = "fsi-intake"
    # Where the provider's signing keys are; empty: the issuer's discovery document says.
    jwks_url: str = ""
    # Comma-separated JWS algorithms a token may be signed with (never `none`, never HMAC).
    algorithms: str = "RS256"
    # Claim names; a dotted name (`attributes.districts`, Keycloak's `realm_access.roles`)
    # reads a nested object when no top-level claim has the whole name.
    roles_claim: str = "roles"
    districts_claim: str = "districts"
    # The display name (else `preferred_username`); never logged or stored.
    name_claim: str = "name"
    # A value of the districts claim meaning every district (a national role).
    national_district: str = "national"
    # The page's client at the provider (authorization code flow with PKCE).
    client_id: str = "fsi-workbench"
    client_secret: str = ""
    # Where browsers reach the pages (`https://fsi.example`), for the callback URL the
    # provider sends them back to (`<base>/triage/callback`); empty: the request's own scheme
    # and Host (right when no TLS-terminating proxy stands in front).
    redirect_base: str = ""
    # Where the browser is sent to sign in, and where the intake exchanges the code; empty:
    # the issuer's discovery document says. Set both when the intake cannot reach the
    # issuer's own address (compose: the browser's 127.0.0.1 is not the container's).
    authorization_url: str = ""
    token_url: str = ""
    # Clock skew allowed on `exp`, `nbf` and `iat`.
    leeway_seconds: Annotated[int, Meta(ge=0, le=300)] = 30

    def __post_init__(self) -> None:
        # Only public-key signatures: `none` proves nothing, and an HMAC algorithm would
        # let anyone holding the provider's public key (published in its JWKS) sign tokens.
        named = self.allowed_algorithms
        refused = [alg for alg in named if alg not in SIGNATURE_ALGORITHMS]
        if refused or not named:
            what = f"{', '.join(refused)} not allowed" if refused else "empty"
            raise ValueError(
                f"FSI_OIDC_ALGORITHMS: {what}; "
                f"name public-key algorithms from {', '.join(SIGNATURE_ALGORITHMS)} "
                "(never `none` or HMAC)"
            )
        if self.issuer and not self.issuer.startswith(("https://", "http://")):
            raise ValueError("FSI_OIDC_ISSUER: an http(s) URL of the identity provider")
        for name in ("redirect_base", "authorization_url", "token_url"):
            value = getattr(self, name)
            if value and not value.startswith(("https://", "http://")):
                raise ValueError(f"FSI_OIDC_{name.upper()}: an http(s) URL")
        if self.issuer and not self.audience:
            raise ValueError("FSI_OIDC_AUDIENCE: required with FSI_OIDC_ISSUER")

    @property
    def allowed_algorithms(self) -> tuple[str, ...]:
        """The JWS algorithms of FSI_OIDC_ALGORITHMS, in the order given."""
        return tuple(alg.strip() for alg in self.algorithms.split(",") if alg.strip())


class TriageSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The work list (`FSI_TRIAGE_*`): how long a claim holds, and the closure grounds."""

    # A claim is held this long from its last renewal, then lapses (the report is free).
    lease_minutes: Annotated[float, Meta(gt=0, le=24 * 60)] = 15.0
    # The catalogue of closure grounds (henleggelse) with their legal basis; empty: the
    # one of a source checkout (deploy/triage/closure-grounds.yaml).
    closure_grounds_file: str = ""
    # Work-list pages hold at most this many reports.
    page_size: Annotated[int, Meta(ge=1, le=500)] = 50


class IntakeSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything the intake process is configured with."""

    db: DatabaseSettings = DatabaseSettings()
    broker: BrokerSettings = BrokerSettings()
    log: LogSettings = LogSettings()
    http: HttpSettings = HttpSettings()
    access: AccessSettings = AccessSettings()
    relay: RelaySettings = RelaySettings()
    standardise: StandardiseSettings = StandardiseSettings()
    ops: OpsSettings = OpsSettings()
    oidc: OidcSettings = OidcSettings()
    triage: TriageSettings = TriageSettings()
    # The same rules and unit catalogue as the router's (FSI_RULES_FILE,
    # FSI_RULES_UNITS_FILE): the workbench decides again after a correction and explains.
    rules: RulesSettings = RulesSettings()
    # FSI_ENVIRONMENT: `development` or `production` (the default; see Environment).
    environment: Environment = "production"
