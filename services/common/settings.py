"""Typed settings from `FSI_`-prefixed environment variables, one object per process.

A process settings class is a msgspec Struct whose fields are concern structs (`db`,
`broker`, `log`, ...). Field `url` of concern `db` is read from `FSI_DB_URL`; a top-level
scalar field `port` from `FSI_PORT`. Everything is validated once, at start-up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta

PREFIX = "FSI_"
# Settings no longer read, each with what replaced it: a deployment that still sets one
# meant something the services no longer do, so they stop at start and say what to set
# instead rather than run without it.
REMOVED = {
    "FSI_OPS_OVERDUE_LOOK_BACK_DAYS": (
        "the operations figures no longer guess 'overdue' from a look-back window: deadlines "
        "are met or missed exactly by the units' case events; to say when a routed case not "
        "yet received counts as late, set FSI_OPS_NOT_RECEIVED_AFTER_SECONDS"
    ),
}

T = TypeVar("T", bound=msgspec.Struct)


# `development`: a developer's machine or a test run, where conveniences that must never
# reach a real deployment are allowed (the development keys of deploy/clients.dev.yaml,
# migrations at start by default, the API explorer's script). Anything else is production.
Environment = Literal["development", "production"]


class SettingsError(ValueError):
    """Settings that cannot be used; the message names the environment variable."""


class DatabaseSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """PostgreSQL connection and pool, directly or through a connection pooler.

    `pooler`: `none` (a direct connection, or a pooler in session mode) or `transaction`
    (PgBouncer's `pool_mode = transaction`, as the CloudNativePG pooler and most managed
    offers run it): each transaction may meet another server connection, so no named
    prepared statements and no session state (LISTEN, session advisory locks).
    `direct_url`: a connection past the pooler, for LISTEN and migrations; empty: `url`
    without a transaction pooler, none with one (the outbox relay then only polls).
    `migrate_on_start`: None follows the process's FSI_ENVIRONMENT (`load` resolves it:
    true in development, else false); settings built in code without it do not migrate.
    """

    url: str = "postgresql://postgres@127.0.0.1:5432/fsi"
    pool_min: Annotated[int, Meta(ge=1, le=100)] = 4
    pool_max: Annotated[int, Meta(ge=1, le=200)] = 16
    migrate_on_start: bool | None = None
    pooler: Literal["none", "transaction"] = "none"
    direct_url: str = ""

    def __post_init__(self) -> None:
        if self.pool_min > self.pool_max:
            raise ValueError("FSI_DB_POOL_MIN is larger than FSI_DB_POOL_MAX")

    @property
    def session_url(self) -> str | None:
        """Where session state holds (LISTEN): `direct_url`, else `url` unless pooled per
        transaction; None when there is no such connection."""
        if self.direct_url:
            return self.direct_url
        return None if self.pooler == "transaction" else self.url

    @property
    def migrate_url(self) -> str:
        """Where migrations run: `direct_url` when given, else `url` (migrations hold only
        transaction-level locks, so a transaction pooler is safe too)."""
        return self.direct_url or self.url

    @property
    def statement_cache_size(self) -> int:
        """asyncpg's cache of named prepared statements: off behind a transaction pooler
        (a statement prepared on one server connection is unknown to the next), else
        asyncpg's default."""
        return 0 if self.pooler == "transaction" else 100


class BrokerSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """RabbitMQ connection and topology naming."""

    url: str = "amqp://guest:guest@127.0.0.1:5672/"
    prefix: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.-]{0,64}$")] = "fsi."
    queue_type: Literal["classic", "quorum"] = "classic"


class LogSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Logging: JSON lines in production, readable lines in a terminal."""

    format: Literal["json", "console"] = "json"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class MigrateSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Settings of the migration command."""

    db: DatabaseSettings = DatabaseSettings()
    log: LogSettings = LogSettings()
    environment: Environment = "production"


def _env_name(path: tuple[str, ...]) -> str:
    return PREFIX + "_".join(part.upper() for part in path)


def _gather(
    cls: type[msgspec.Struct], env: Mapping[str, str], path: tuple[str, ...]
) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for field in msgspec.structs.fields(cls):
        key = (*path, field.name)
        field_type = field.type
        if isinstance(field_type, type) and issubclass(field_type, msgspec.Struct):
            nested = _gather(field_type, env, key)
            if nested:
                raw[field.name] = nested
        elif _env_name(key) in env:
            raw[field.name] = env[_env_name(key)]
    return raw


_PATH = re.compile(r"`\$((?:\.[a-z_]+)*)`")
_NAMED = re.compile(r"^(FSI_[A-Z0-9_]+): (.+)$", re.DOTALL)


def _explain(error: msgspec.ValidationError) -> str:
    message = str(error)
    text = message.split(" - at ")[0]
    # A check across fields names the variable itself: `FSI_X_Y: problem`.
    named = _NAMED.match(text)
    if named is not None:
        return f"invalid setting {named.group(1)}: {named.group(2)}"
    match = _PATH.search(message)
    if match is None:
        return f"invalid settings: {message}"
    name = _env_name(tuple(part for part in match.group(1).split(".") if part))
    return f"invalid setting {name}: {text}"


def load(cls: type[T], env: Mapping[str, str] | None = None) -> T:
    """Build a settings object from the environment, or raise `SettingsError` (also for a
    setting in `REMOVED`)."""
    source = os.environ if env is None else env
    for name, instead in REMOVED.items():
        if name in source:
            raise SettingsError(f"setting {name} is no longer read: {instead}; remove it")
    try:
        return _resolved(msgspec.convert(_gather(cls, source, ()), cls, strict=False))
    except msgspec.ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


def _resolved(settings: T) -> T:
    """`db.migrate_on_start` as FSI_ENVIRONMENT has it when not set: a deployment migrates
    in a step of its own (fsi-migrate, as the tables' owner), a developer's run on start."""
    db = getattr(settings, "db", None)
    environment = getattr(settings, "environment", None)
    if not isinstance(db, DatabaseSettings) or db.migrate_on_start is not None:
        return settings
    migrate = environment == "development"
    return msgspec.structs.replace(
        settings, db=msgspec.structs.replace(db, migrate_on_start=migrate)
    )


# The default rules and unit catalogue of a source checkout. They are the deployment's policy,
# not package data: an installed package has none, and there both settings are required, so a
# deployment that forgot them stops at start instead of routing by the example rules.
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "routing"


def _in_checkout(name: str) -> str:
    path = DEPLOY / name
    return str(path) if path.is_file() else ""


class RulesSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where the rules and the unit catalogue are (defaults: deploy/routing/ of a source
    checkout; required where there is none)."""

    file: str = _in_checkout("rules.yaml")
    units_file: str = _in_checkout("units.yaml")
