"""What a command says when it cannot start: one line naming the setting, where and why.

Every entry point (fsi-intake, fsi-router, fsi-migrate, fsi-declare) turns a failure it
cannot run past into a `StartupError` and leaves through `fail`: one line on stderr, no
traceback, and an exit code that tells a supervisor whether starting again can help. A URL
is shown by its host and port only: never its user, password or query.
"""

from __future__ import annotations

import socket
import sys
import urllib.parse
from typing import NoReturn

import asyncpg
import msgspec

from services.common import db, migrate
from services.common.migrate import MigrationError
from services.common.settings import DatabaseSettings

# Exit codes from sysexits.h, so that a supervisor can restart on the first and stop on the
# others (systemd: RestartPreventExitStatus=76 78).
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: PostgreSQL or RabbitMQ cannot be reached now
EXIT_TOPOLOGY = 76  # EX_PROTOCOL: RabbitMQ holds a queue or exchange of ours with other arguments
EXIT_CONFIG = 78  # EX_CONFIG: a setting, a file, a login, a database or a virtual host is wrong


class StartupError(Exception):
    """A reason not to start, as one line, with the exit code it calls for."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(command: str, error: StartupError) -> NoReturn:
    """Print `command: message` on stderr and exit with the error's code."""
    print(f"{command}: {error}", file=sys.stderr, flush=True)
    sys.exit(error.exit_code)


def where(url: str, default_port: int) -> str:
    """The hosts and ports a URL names (`host:port`, comma-separated for several hosts), or
    `the local socket` when it names none; never the user, password, path or query."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    hosts = []
    for part in netloc.split(","):
        if not part:
            continue
        bracket = part.rfind("]")
        has_port = part.rfind(":") > bracket
        hosts.append(part if has_port else f"{part}:{default_port}")
    if hosts:
        return ",".join(hosts)
    # libpq's `?host=/run/postgresql` (a socket directory) when the URL names no host.
    query = urllib.parse.parse_qs(parts.query)
    if "host" in query:
        port = query.get("port", [str(default_port)])[0]
        return ",".join(f"{host}:{port}" for host in query["host"][0].split(","))
    return "the local socket"


# SQLSTATE classes that pass: connection exceptions, insufficient resources (too many
# connections), operator intervention (starting up, shutting down).
_PASSING = {"08", "53", "57"}


def _database_name(url: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.lstrip("/"))


def _reason(exc: BaseException) -> str:
    """An operating system error's own words (never a message quoting the URL)."""
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return f"the connection failed ({type(exc).__name__})"


def database_error(exc: BaseException, url: str, setting: str = "FSI_DB_URL") -> StartupError:
    """Why PostgreSQL at `url` cannot be used, naming the setting and the host and port.

    Server messages are not repeated: they may name the user."""
    at = where(url, 5432)
    if isinstance(exc, asyncpg.ClientConfigurationError | ValueError):
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
            f"({type(exc).__name__})",
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
        f"cannot reach PostgreSQL at {at} ({setting}): {_reason(exc)}", EXIT_UNAVAILABLE
    )


async def open_database(settings: DatabaseSettings) -> asyncpg.Pool:
    """The pool, after the migrations when the settings ask for them; a `StartupError`
    naming the setting, host and port of whichever connection failed (migrations run on
    FSI_DB_DIRECT_URL when it is set)."""
    if settings.migrate_on_start:
        setting = "FSI_DB_DIRECT_URL" if settings.direct_url else "FSI_DB_URL"
        try:
            await migrate.migrate(settings.migrate_url)
        except Exception as exc:  # every failure of the connect or a migration, in one line
            raise database_error(exc, settings.migrate_url, setting) from None
    try:
        return await db.create_pool(msgspec.structs.replace(settings, migrate_on_start=False))
    except Exception as exc:
        raise database_error(exc, settings.url) from None
