"""The pages' sign-in sessions in PostgreSQL (`operator_sessions`), behind the sessions' store."""

from __future__ import annotations

import datetime as dt
import json

import asyncpg

from services.common.sessions import SessionRecord

_INSERT = """
INSERT INTO operator_sessions
    (token_sha256, subject, credential, created_at, last_seen_at, ended_at, end_reason, grants)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
"""
_FIND = """
SELECT token_sha256, subject, credential, created_at, last_seen_at, ended_at, end_reason,
       grants::text AS grants
FROM operator_sessions WHERE token_sha256 = $1
"""


class PgSessionStore:
    """`services.common.sessions.SessionStore` on a connection pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, record: SessionRecord) -> None:
        await self._pool.execute(
            _INSERT,
            record.token_sha256,
            record.subject,
            record.credential,
            record.created_at,
            record.last_seen_at,
            record.ended_at,
            record.end_reason,
            None if record.grants is None else json.dumps(record.grants),
        )

    async def find(self, token_sha256: bytes) -> SessionRecord | None:
        row = await self._pool.fetchrow(_FIND, token_sha256)
        if row is None:
            return None
        fields = dict(row)
        grants = fields.pop("grants")
        return SessionRecord(**fields, grants=None if grants is None else json.loads(grants))

    async def touch(self, token_sha256: bytes, at: dt.datetime) -> None:
        # Never backwards: two requests of one session may touch it at once.
        await self._pool.execute(
            "UPDATE operator_sessions SET last_seen_at = $2"
            " WHERE token_sha256 = $1 AND ended_at IS NULL AND last_seen_at < $2",
            token_sha256,
            at,
        )

    async def end(self, token_sha256: bytes, at: dt.datetime, reason: str) -> None:
        await self._pool.execute(
            "UPDATE operator_sessions SET ended_at = $2, end_reason = $3"
            " WHERE token_sha256 = $1 AND ended_at IS NULL",
            token_sha256,
            at,
            reason,
        )

    async def purge(self, created_before: dt.datetime) -> None:
        await self._pool.execute(
            "DELETE FROM operator_sessions WHERE created_at < $1", created_before
        )
