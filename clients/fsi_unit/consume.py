"""Consuming a unit's queue: most urgent first, each case acknowledged once printed or stored."""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from dataclasses import dataclass
from typing import IO, Any

import aio_pika
import aio_pika.abc

# A canonical offence code (`strl-321`, `strl1902-231`, `aml-4-1`): anything else may be text a
# person typed, which stays off the terminal.
_CODE = re.compile(r"^[a-z][a-z0-9]{0,15}-[0-9]{1,4}[a-z]?(?:-[0-9]{1,4}[a-z]?)?$")


class Unreadable(ValueError):
    """A message that is not a case this client can read (said without its content)."""


@dataclass(slots=True)
class Tally:
    """What a run did: cases taken (printed or written, then acknowledged) and messages
    rejected to the dead-letter queue."""

    taken: int = 0
    rejected: int = 0


def summary(body: dict[str, Any], message: aio_pika.abc.AbstractIncomingMessage) -> str:
    """One line of a case: report id, priority (named and AMQP), due time, offence codes.
    Never a person's name, national id or free text. Raises `Unreadable` when the body is
    not a case."""
    try:
        report_id = str(uuid.UUID(str(body["report_id"])))
        decision = body["decision"]
        priority = str(decision["priority"])
        deadline = decision.get("deadline") or {}
        offences = body["report"]["offences"]
    except (KeyError, TypeError, ValueError) as exc:
        raise Unreadable(f"not a case: {type(exc).__name__}") from None
    due = str(deadline.get("due_at", "-")) if isinstance(deadline, dict) else "-"
    codes = [o.get("code") for o in offences if isinstance(o, dict)]
    shown = ",".join(c if isinstance(c, str) and _CODE.match(c) else "?" for c in codes)
    line = (
        f"{report_id}  priority={priority}({message.priority or 0})  due={due}  "
        f"offences={shown or '-'}"
    )
    if message.message_id and message.message_id != report_id:
        line += f"  case={_safe_id(message.message_id)}"
    return line + ("  redelivered" if message.redelivered else "")


def _safe_id(message_id: str | None) -> str:
    # A message id is a uuid in this contract; anything else is not printed as it is.
    try:
        return str(uuid.UUID(message_id or ""))
    except ValueError:
        return "(not a uuid)"


def _store(out: IO[bytes], raw: bytes, body: Any) -> None:
    """One JSON line, flushed and synced: stored before it is acknowledged."""
    line = raw if b"\n" not in raw and b"\r" not in raw else json.dumps(body).encode()
    out.write(line + b"\n")
    out.flush()
    if out.fileno() > 2:  # a file, not standard output
        os.fsync(out.fileno())


async def take(
    message: aio_pika.abc.AbstractIncomingMessage, out: IO[bytes] | None, tally: Tally
) -> None:
    """Print (or store as a JSON line) one case, then acknowledge it; a message that is not
    a case is rejected without requeueing (the queue dead-letters it) and said on stderr."""
    try:
        body = json.loads(message.body)
        line = summary(body if isinstance(body, dict) else {}, message)
    except (ValueError, Unreadable) as exc:
        what = exc if isinstance(exc, Unreadable) else "not JSON"
        print(
            f"fsi-unit: message {_safe_id(message.message_id)} is {what}: rejected "
            "to the dead-letter queue",
            file=sys.stderr,
        )
        await message.reject(requeue=False)
        tally.rejected += 1
        return
    if out is None:
        print(line, flush=True)
    else:
        _store(out, message.body, body)
    await message.ack()
    tally.taken += 1


async def consume(
    channel: aio_pika.abc.AbstractChannel,
    queue_name: str,
    out: IO[bytes] | None,
    count: int | None,
    until_empty: bool,
) -> Tally:
    """Take cases from the queue, most urgent first, until `count` are taken, or the queue
    has none ready (`until_empty`), or for ever. Prefetch 1: the broker hands over the next
    case only once this one is acknowledged, so it is always the most urgent one waiting.
    `until_empty` reads with basic.get (same order), whose empty answer is exact. Raises the
    broker's errors (no such queue: `ChannelNotFoundEntity`)."""
    await channel.set_qos(prefetch_count=1)
    queue = await channel.get_queue(queue_name, ensure=True)
    tally = Tally()

    def done() -> bool:
        return count is not None and tally.taken + tally.rejected >= count

    if until_empty:
        while not done():
            message = await queue.get(no_ack=False, fail=False, timeout=10)
            if message is None:
                break
            await take(message, out, tally)
        return tally
    async with queue.iterator() as messages:
        async for message in messages:
            await take(message, out, tally)
            if done():
                break
    return tally
