"""A message the router cannot route, copied to the dead-letter exchange with its reason."""

from __future__ import annotations

from collections.abc import Mapping

import aio_pika


async def to_dead_letters(
    exchange: aio_pika.abc.AbstractExchange,
    message: aio_pika.abc.AbstractIncomingMessage,
    reason: str,
    queue: str,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Publish a persistent copy of `message` (its body, id, type and content type) to the
    dead-letter `exchange`, naming `reason` (free of personal data) and the `queue` it came
    from in its headers, with any further `headers` (free of personal data too), and wait
    for the broker's confirm (at most 10 s). The message is not acknowledged here: the
    caller does that once whatever it records is recorded. Raises the broker's error
    (`deliveries.TRANSIENT`) when it was not confirmed."""
    await exchange.publish(
        aio_pika.Message(
            message.body,
            message_id=message.message_id,
            type=message.type,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers={
                **(headers or {}),
                "x-fsi-reason": reason,
                "x-fsi-original-queue": queue,
            },
        ),
        routing_key="",
        timeout=10,
    )
