"""Versioned SQL migrations: applied in order, once, each under a transaction-level lock.

Files are `services/common/migrations/NNNN_name.sql`, shipped in the package. Each runs
in its own transaction and is recorded in `schema_migrations` with its checksum; a
changed, already applied file is an error, and so is a run that finds no files. Every
transaction takes `pg_advisory_xact_lock` first and reads what is applied under it, so
processes starting at once apply each file once; the lock ends with its transaction, so
none is ever left behind, also through a transaction pooler (PgBouncer), where a session
lock would stay on a server connection the pooler keeps. Once the owner role (`fsi_owner`,
migration 0009) owns this database's tables, each migration runs as it, so what a later one
creates is the owner's too; a login that finds nothing to apply changes nothing, so a
service's own role may "migrate" an up-to-date database.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from services.common import logging as fsi_logging
from services.common import settings as fsi_settings

# Package data: found beside this module in a wheel or a source tree alike.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant both processes agree on; "FSI-migrate" as a 63-bit number.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"FSI-migrate").digest()[:8], "big") >> 1
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The migrations on disk and in the database disagree."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One SQL file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files, in version order; `MigrationError` when there are none (an
    install without its package data would otherwise migrate nothing, silently)."""
    found: list[Migration] = []
    paths = sorted(directory.glob("*.sql"))
    if not paths:
        raise MigrationError(f"no migration files (NNNN_name.sql) in {directory}")
    for path in paths:
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text("utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


_SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())"
)
# The role that owns the tables (migration 0009 makes it).
OWNER = "fsi_owner"
# True once the owner owns the bookkeeping (0009 applied here) and this login may act as it.
_AS_OWNER = """
SELECT coalesce(bool_and(c.relowner = r.oid AND pg_has_role(session_user, r.oid, 'MEMBER')),
                false)
FROM pg_class c, pg_roles r
WHERE c.oid = to_regclass('schema_migrations') AND r.rolname = $1
"""


async def _lock(conn: asyncpg.Connection) -> None:
    # Held until the transaction ends, whatever happens to the connection after it.
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)


async def apply(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[int]:
    """Apply what is missing; return the versions applied by this call.

    Raises `MigrationError` for an applied file that changed (nothing is applied then)."""
    todo = discover() if migrations is None else migrations
    log = fsi_logging.get_logger("migrate")
    async with conn.transaction():
        await _lock(conn)
        # Created only when missing: CREATE ... IF NOT EXISTS needs the right to create.
        if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
            try:
                await conn.execute(_SCHEMA_MIGRATIONS)
            except asyncpg.InsufficientPrivilegeError:
                raise _not_the_owner("all migrations are") from None
        done = {
            r["version"]: r["checksum"]
            for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
    for migration in todo:
        if migration.version in done and done[migration.version] != migration.checksum:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} was changed "
                "after it was applied; add a new migration instead"
            )
    applied: list[int] = []
    for migration in todo:
        if migration.version in done:
            continue
        async with conn.transaction():
            await _lock(conn)
            # Read again under the lock: another process may have applied it meanwhile.
            if await conn.fetchval(
                "SELECT 1 FROM schema_migrations WHERE version = $1", migration.version
            ):
                continue
            if await conn.fetchval(_AS_OWNER, OWNER):
                # Ends with the transaction; a superuser sheds its powers here too.
                await conn.execute(f"SET LOCAL ROLE {OWNER}")
            try:
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            except asyncpg.InsufficientPrivilegeError:
                raise _not_the_owner(
                    f"migration {migration.version:04d}_{migration.name} is"
                ) from None
        log.info("migration applied", version=migration.version, migration=migration.name)
        applied.append(migration.version)
    return applied


def _not_the_owner(what: str) -> MigrationError:
    # A service's own login meeting a migration: said as what to do, not as SQL refused.
    return MigrationError(
        f"{what} pending, and this login may not apply migrations: "
        f"run fsi-migrate as {OWNER} or a member of it"
    )


async def pending(conn: asyncpg.Connection | asyncpg.Pool) -> list[Migration]:
    """The migrations on disk that the database has not applied (all of them when it has no
    `schema_migrations`); versions it has beyond these (a newer release's) do not count."""
    todo = discover()
    if await conn.fetchval("SELECT to_regclass('schema_migrations')") is None:
        return todo
    done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
    return [m for m in todo if m.version not in done]


async def create_database(url: str) -> bool:
    """Create the database named in the URL when it does not exist; True when created."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = await asyncpg.connect(
        urlunsplit(parts._replace(path="/postgres")), statement_cache_size=0
    )
    try:
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await admin.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await admin.close()


async def migrate(url: str) -> list[int]:
    """Connect, apply, disconnect. No named prepared statements, so the URL may go
    through a transaction pooler."""
    conn = await asyncpg.connect(url, statement_cache_size=0)
    try:
        return await apply(conn)
    finally:
        await conn.close()


def main() -> None:
    """`fsi-migrate`: apply the migrations to `FSI_DB_DIRECT_URL`, else `FSI_DB_URL`."""
    parser = argparse.ArgumentParser(
        description="Apply the SQL migrations to FSI_DB_DIRECT_URL, else FSI_DB_URL."
    )
    parser.add_argument("--create", action="store_true", help="create the database if missing")
    args = parser.parse_args()
    # Here, not at the top: db describes this module's own MigrationError.
    from services.common import db, startup

    settings = startup.settings_or_exit(fsi_settings.MigrateSettings, "fsi-migrate")
    fsi_logging.configure(settings.log)
    url = settings.db.migrate_url
    setting = "FSI_DB_DIRECT_URL" if settings.db.direct_url else "FSI_DB_URL"
    try:
        if args.create and asyncio.run(create_database(url)):
            print("database created")
        applied = asyncio.run(migrate(url))
    except (
        MigrationError,
        asyncpg.PostgresError,
        OSError,
        asyncpg.InterfaceError,
        ValueError,  # a URL asyncpg cannot read (a port that is no number)
        OverflowError,  # a port out of range, refused by the socket
    ) as exc:
        # One line: the setting, host and port (never the password), and why.
        startup.fail("fsi-migrate", db.database_error(exc, url, setting))
    print(f"migrations applied: {applied or 'none (up to date)'}")


if __name__ == "__main__":
    main()
