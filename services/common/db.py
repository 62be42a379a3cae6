"""The PostgreSQL pool: created from settings, migrated on start when asked."""

from __future__ import annotations

import asyncpg

from services.common import migrate
from services.common.settings import DatabaseSettings

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
    """A connection pool; applies pending migrations first when `migrate_on_start`."""
    if settings.migrate_on_start:
        await migrate.migrate(settings.url)
    pool = await asyncpg.create_pool(
        settings.url,
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        reset=_keep_session,
    )
    assert pool is not None
    return pool


async def _keep_session(_conn: asyncpg.Connection) -> None:
    # The services never change session state (no SET, LISTEN or advisory locks on pooled
    # connections), so the default reset query, a round trip on every release, is skipped.
    # asyncpg still rolls back a transaction left open before calling this.
    return None
