"""The PostgreSQL pool: created from settings, migrated on start when asked."""

from __future__ import annotations

import asyncpg

from services.common import migrate
from services.common.logging import get_logger
from services.common.settings import DatabaseSettings

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
