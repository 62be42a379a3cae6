"""The PostgreSQL pool: created from settings, migrated on start when asked, and opened at
start-up with one line naming the setting, host and port when it cannot be."""

from __future__ import annotations

import re
import urllib.parse

import asyncpg
import msgspec

from services.common import migrate
from services.common.logging import get_logger
from services.common.migrate import MigrationError
from services.common.settings import DatabaseSettings
from services.common.startup import (
    EXIT_CONFIG,
    EXIT_UNAVAILABLE,
    StartupError,
    port_problem,
    unreachable,
    where,
)

log = get_logger("db")

# Failures of the connection rather than of a statement: they pass when PostgreSQL is back.
# asyncpg raises InternalClientError ("cannot switch to state") when a statement meets a
# connection the server has just closed; asyncio a plain OSError when every address refuses.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)


async def create_pool(settings: DatabaseSettings) -> asyncpg.Pool:
    """A connection pool; applies pending migrations first when `migrate_on_start` (None,
    as settings built in code leave it, does not).

    Behind a transaction pooler (`pooler = "transaction"`) statements are not kept as named
    prepared statements: asyncpg then parses each one unnamed, in the same round trips as
    its execution, which PgBouncer keeps on one server connection.
    """
    if settings.migrate_on_start:
        await migrate.migrate(settings.migrate_url)
    pool = await asyncpg.create_pool(
        settings.url,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        statement_cache_size=settings.statement_cache_size,
        reset=_keep_session,
    )
    assert pool is not None
    if settings.pooler == "none":
        await _warn_if_pooled(pool)
    return pool


async def _warn_if_pooled(pool: asyncpg.Pool) -> None:
    # Behind a pooler the process id PostgreSQL announced at connection time is the
    # pooler's cancel key, not the backend's. Session pooling is fine, so only a warning.
    async with pool.acquire() as conn:
        if await conn.fetchval("SELECT pg_backend_pid()") != conn.get_server_pid():
            log.warning(
                "connected through a connection pooler; if it pools per transaction "
                "(PgBouncer pool_mode = transaction) set FSI_DB_POOLER=transaction"
            )


async def connect(settings: DatabaseSettings) -> asyncpg.Connection:
    """One connection to `url`, with the statement cache the pooler allows."""
    return await asyncpg.connect(settings.url, statement_cache_size=settings.statement_cache_size)


async def _keep_session(_conn: asyncpg.Connection) -> None:
    # The services never change session state (no SET, LISTEN or advisory locks on pooled
    # connections), so the default reset query, a round trip on every release, is skipped.
    # asyncpg still rolls back a transaction left open before calling this. Behind a
    # transaction pooler a reset would in any case reach whichever server connection is free.
    return None


# SQLSTATE classes that pass: connection exceptions, insufficient resources (too many
# connections), operator intervention (starting up, shutting down).
_PASSING = {"08", "53", "57"}


def _sqlstate_words(name: str) -> str:
    """asyncpg's name of a condition in words: TooManyConnectionsError -> too many connections
    (its server message may name the user, so it is not repeated)."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name.removesuffix("Error")).lower()


def _database_name(url: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.lstrip("/"))


def database_error(exc: BaseException, url: str, setting: str = "FSI_DB_URL") -> StartupError:
    """Why PostgreSQL at `url` cannot be used, naming the setting and the host and port.

    Server messages are not repeated: they may name the user."""
    at = where(url, 5432)
    problem = port_problem(url)
    if problem is not None:
        return StartupError(f"{setting}: {problem}", EXIT_CONFIG)
    # OverflowError: a port asyncpg took for a number but the socket refused.
    if isinstance(exc, asyncpg.ClientConfigurationError | ValueError | OverflowError):
        return StartupError(
            f"{setting} is not a usable PostgreSQL URL (postgresql://user@host:port/database)",
            EXIT_CONFIG,
        )
    if isinstance(
        exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
    ):
        return StartupError(
            f"PostgreSQL at {at} ({setting}) refused the login: check the user and password",
            EXIT_CONFIG,
        )
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return StartupError(
            f"PostgreSQL at {at} ({setting}) has no database '{_database_name(url)}' "
            "(fsi-migrate --create makes it)",
            EXIT_CONFIG,
        )
    if isinstance(exc, asyncpg.PostgresError) and str(exc.sqlstate)[:2] in _PASSING:
        return StartupError(
            f"PostgreSQL at {at} ({setting}) refused: SQLSTATE {exc.sqlstate} "
            f"({_sqlstate_words(type(exc).__name__)})",
            EXIT_UNAVAILABLE,
        )
    if isinstance(exc, asyncpg.PostgresError):
        # A statement of ours failed (a migration): the server's first line is about the
        # schema, and nothing at start-up holds report data.
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        return StartupError(
            f"PostgreSQL at {at} ({setting}) refused a statement: {first}", EXIT_CONFIG
        )
    if isinstance(exc, MigrationError):
        return StartupError(f"migrations of PostgreSQL at {at} ({setting}): {exc}", EXIT_CONFIG)
    return StartupError(
        f"cannot reach PostgreSQL at {at} ({setting}): {unreachable(exc, 'PostgreSQL')}",
        EXIT_UNAVAILABLE,
    )


def missing_migrations(missing: list[migrate.Migration], url: str) -> StartupError:
    """A database that lacks migrations this release needs, when the process does not
    migrate itself: one line naming them and fsi-migrate; 69, since starting again helps
    once the deployment's migration step has run."""
    shown = ", ".join(f"{m.version:04d}_{m.name}" for m in missing[:3])
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return StartupError(
        f"PostgreSQL at {where(url, 5432)} (FSI_DB_URL) lacks migrations {shown}{more}: "
        "run fsi-migrate first (FSI_DB_MIGRATE_ON_START is off)",
        EXIT_UNAVAILABLE,
    )


_LOGIN = """
SELECT current_user AS login, rolsuper AS superuser,
       pg_has_role(current_user, 'fsi_owner', 'USAGE') AS owner,
       pg_has_role(current_user, $1::text, 'USAGE') AS member
FROM pg_roles WHERE rolname = current_user
"""


async def service_login_problem(pool: asyncpg.Pool, role: str) -> str | None:
    """Why the pool's login is no service login of `role` (`fsi_intake`, `fsi_router`), or
    None: a superuser or a member of the owner `fsi_owner` could undo the append-only audit
    (TRUNCATE in replica mode, disabled triggers), a login outside the role lacks privileges.
    The role must exist (migration 0009 makes it)."""
    row = await pool.fetchrow(_LOGIN, role)
    if row is None:  # pragma: no cover - current_user is always in pg_roles
        return "its login is not in pg_roles"
    if row["superuser"]:
        return f"connects as `{row['login']}`, a superuser"
    if row["owner"]:
        return f"connects as `{row['login']}`, a member of the tables' owner fsi_owner"
    if not row["member"]:
        return f"connects as `{row['login']}`, which is not a member of {role}"
    return None


async def open_database(
    settings: DatabaseSettings, *, service_role: str | None = None
) -> asyncpg.Pool:
    """The pool, after the migrations when the settings ask for them, else once none is
    missing; a `StartupError` naming the setting, host and port of whichever connection
    failed (migrations run on FSI_DB_DIRECT_URL when it is set). With `service_role` (as
    production asks), a login that is a superuser, an owner or outside that role is refused
    (78): the database roles bind only a service that connects with its own."""
    if settings.migrate_on_start:
        setting = "FSI_DB_DIRECT_URL" if settings.direct_url else "FSI_DB_URL"
        try:
            await migrate.migrate(settings.migrate_url)
        except Exception as exc:  # every failure of the connect or a migration, in one line
            raise database_error(exc, settings.migrate_url, setting) from None
    try:
        pool = await create_pool(msgspec.structs.replace(settings, migrate_on_start=False))
    except Exception as exc:
        raise database_error(exc, settings.url) from None
    try:
        missing = [] if settings.migrate_on_start else await migrate.pending(pool)
    except Exception as exc:
        await pool.close()
        raise database_error(exc, settings.url) from None
    if missing:
        # A service running on tables older than its statements would fail request by
        # request; a deployment migrates first (fsi-migrate, as the owner), then starts it.
        await pool.close()
        raise missing_migrations(missing, settings.url)
    if service_role is not None:
        try:
            wrong = await service_login_problem(pool, service_role)
        except Exception as exc:
            await pool.close()
            raise database_error(exc, settings.url) from None
        if wrong is not None:
            await pool.close()
            raise StartupError(
                f"FSI_DB_URL {wrong}: in production the service connects as a login of its "
                f"own that is a member of {service_role} only (docs/security.md, "
                "Database roles)",
                EXIT_CONFIG,
            )
    return pool
