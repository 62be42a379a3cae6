"""SQL of the outbox relay: claims with a lease, marks, back-off, retention, and rows set aside.

A claim is one committed statement that counts the attempt before anything is published,
so whatever fails afterwards (the mark, the commit, the connection, the process), the count
stands: a row whose claims keep ending with no outcome recorded (`unsettled`) is set aside
after a bound instead of being published again and again. Every statement is a single
autocommitted one, so it runs the same through a transaction pooler (PgBouncer).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

# What the outbox's insert trigger notifies (migration 0001), for a relay to wake sooner.
CHANNEL = "fsi_outbox"


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox row claimed for publishing: its id, the report it announces and the
    message (type, routing key, the bytes, the source format), the claims so far, and the
    person's decision it announces (None for the report's own row, as accepted)."""

    id: int
    report_id: uuid.UUID
    message_type: str
    routing_key: str
    payload: bytes
    source_format: str
    attempts: int
    decision_id: uuid.UUID | None = None

    @property
    def message_id(self) -> str:
        """The AMQP message id: the decision's for a person's decision (one message per
        decision, however often published), else the report's."""
        return str(self.decision_id or self.report_id)


@dataclass(frozen=True, slots=True)
class SetAside:
    """An outbox row set aside by a claim: its id, report and claims so far."""

    id: int
    report_id: uuid.UUID
    attempts: int


# Claimable rows, oldest first; those whose claims reached the bound are set aside in the
# same statement (disjoint rows), the others claimed for `$2`. RETURNING has no order.
_CLAIM = """
WITH due AS (
    SELECT id, unsettled FROM outbox
    WHERE published_at IS NULL AND set_aside_at IS NULL
      AND (next_attempt_at IS NULL OR next_attempt_at <= now())
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
), aside AS (
    UPDATE outbox o SET set_aside_at = now(), next_attempt_at = NULL,
                        last_error = 'set aside: claims ended without an outcome'
    FROM due WHERE o.id = due.id AND due.unsettled >= $3
    RETURNING o.id, o.report_id, o.attempts
), claimed AS (
    UPDATE outbox o SET attempts = o.attempts + 1, unsettled = o.unsettled + 1,
                        next_attempt_at = now() + $2::interval
    FROM due WHERE o.id = due.id AND due.unsettled < $3
    RETURNING o.id, o.report_id, o.message_type, o.routing_key, o.payload, o.source_format,
              o.attempts, o.decision_id
)
SELECT id, report_id, message_type, routing_key, payload, source_format, attempts,
       decision_id, false AS set_aside
FROM claimed
UNION ALL
SELECT id, report_id, NULL::text, NULL::text, NULL::bytea, NULL::text, attempts,
       NULL::uuid, true
FROM aside
"""

_MARK = """
UPDATE outbox SET published_at = now(), unsettled = 0, next_attempt_at = NULL,
                  last_error = NULL
WHERE id = ANY($1::bigint[]) AND published_at IS NULL
"""

# A publish known to have failed settles its claim (it does not count towards setting the
# row aside: a broker that refuses for a while must not set the backlog aside) and backs
# off, doubling with each attempt.
_BACK_OFF = """
UPDATE outbox SET unsettled = greatest(unsettled - 1, 0), last_error = 'publish failed',
    next_attempt_at = now() + make_interval(
        secs => least($3::float8, $2::float8 * power(2, least(attempts - 1, 30))))
WHERE id = ANY($1::bigint[]) AND published_at IS NULL
"""

_PURGE = """
UPDATE outbox SET payload = NULL
WHERE id IN (
    SELECT id FROM outbox
    WHERE payload IS NOT NULL AND published_at IS NOT NULL AND published_at < now() - $1::interval
    ORDER BY published_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
"""

_SET_ASIDE = """
SELECT report_id, attempts, set_aside_at, created_at FROM outbox
WHERE set_aside_at IS NOT NULL
ORDER BY set_aside_at, id
LIMIT $1
"""

_PUT_BACK = """
UPDATE outbox SET set_aside_at = NULL, unsettled = 0, next_attempt_at = NULL, last_error = NULL
WHERE set_aside_at IS NOT NULL AND ($1::uuid[] IS NULL OR report_id = ANY($1::uuid[]))
"""


async def claim(
    pool: asyncpg.Pool, limit: int, lease: dt.timedelta, max_unsettled: int
) -> tuple[list[Claimed], list[SetAside]]:
    """Claim up to `limit` pending rows for `lease`: (rows to publish in id order, rows set
    aside now because `max_unsettled` claims ended without an outcome)."""
    rows = sorted(await pool.fetch(_CLAIM, limit, lease, max_unsettled), key=lambda r: r["id"])
    claimed = [
        Claimed(
            r["id"],
            r["report_id"],
            r["message_type"],
            r["routing_key"],
            bytes(r["payload"]),
            r["source_format"],
            r["attempts"],
            r["decision_id"],
        )
        for r in rows
        if not r["set_aside"]
    ]
    aside = [SetAside(r["id"], r["report_id"], r["attempts"]) for r in rows if r["set_aside"]]
    return claimed, aside


async def mark_published(pool: asyncpg.Pool, ids: list[int]) -> None:
    """Record rows as published (the broker confirmed them)."""
    await pool.execute(_MARK, ids)


async def back_off(pool: asyncpg.Pool, ids: list[int], first: float, most: float) -> None:
    """Settle claims whose publish failed; each row waits `first` seconds doubled per
    attempt, at most `most`."""
    await pool.execute(_BACK_OFF, ids, first, most)


async def purge_published_payloads(pool: asyncpg.Pool, older_than: dt.timedelta, limit: int) -> int:
    """Clear the message copies of outbox rows published longer ago than `older_than`, at
    most `limit` of them (one short statement); how many were cleared."""
    status = await pool.execute(_PURGE, older_than, limit)
    return int(status.rsplit(" ", 1)[-1])


async def set_aside(
    pool: asyncpg.Pool | asyncpg.Connection, limit: int = 1000
) -> list[asyncpg.Record]:
    """The rows set aside (report_id, attempts, set_aside_at, created_at), oldest first."""
    return list(await pool.fetch(_SET_ASIDE, limit))


async def put_back(
    pool: asyncpg.Pool | asyncpg.Connection, report_ids: list[uuid.UUID] | None
) -> int:
    """Make set-aside rows claimable again (those of `report_ids`, or all when None), with
    their unsettled claims forgotten; how many."""
    status = await pool.execute(_PUT_BACK, report_ids)
    return int(status.rsplit(" ", 1)[-1])


async def listen(url: str, wake: Callable[[], None]) -> asyncpg.Connection:
    """A connection of its own to `url` (LISTEN needs a session, so never a pooled one, nor
    one through a transaction pooler) that calls `wake` on every new outbox row. Raises
    asyncpg's errors or OSError when it cannot connect; the caller closes it."""

    def notified(*_: Any) -> None:
        wake()

    connection = await asyncpg.connect(url)
    try:
        await connection.add_listener(CHANNEL, notified)
    except BaseException:
        await connection.close()
        raise
    return connection
