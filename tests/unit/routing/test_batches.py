"""How the router gathers deliveries into batches (its I/O replaced by futures the test
resolves): order, size, how many at once, the settled chain, and no delivery left behind."""

from __future__ import annotations

import asyncio
from typing import Any

from services.routing.consumer import Outcome, Sequencer


class Batches:
    """A consumer whose route callable records each batch and waits until the test releases
    it, settling nothing."""

    def __init__(self, **options: Any) -> None:
        self.router = Sequencer(self._route, **options)
        self.seen: list[list[str]] = []
        # Each batch's settled future, and the one each batch waits for: the batch's before.
        self.settled: list[asyncio.Future[None] | None] = []
        self.previous: list[asyncio.Future[None] | None] = []
        self.gates: list[asyncio.Future[None]] = []

    async def _route(self, batch: list[Any]) -> Outcome:
        self.seen.append([message for message, _ in batch])
        self.previous.append(self.settled[-1] if self.settled else None)
        self.settled.append(self.router._settled)
        gate = asyncio.get_running_loop().create_future()
        self.gates.append(gate)
        await gate
        return Outcome()

    async def deliver(self, *messages: str) -> None:
        for message in messages:
            await self.router.handle(message)  # type: ignore[arg-type]

    async def two_on_their_way(self) -> None:
        """m1 and m2, each taken as a batch of its own and held."""
        for message in ("m1", "m2"):
            await self.deliver(message)
            await turns()

    async def release(self, index: int) -> None:
        self.gates[index].set_result(None)
        await turns()


async def turns(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_deliveries_wait_in_order_and_go_in_batches_two_at_a_time() -> None:
    batches = Batches(batches_in_flight=2, max_batch=3)
    await batches.two_on_their_way()
    await batches.deliver("m3", "m4", "m5", "m6", "m7")
    await turns()
    assert batches.seen == [["m1"], ["m2"]]  # two on their way; the rest wait
    await batches.release(0)
    assert batches.seen == [["m1"], ["m2"], ["m3", "m4", "m5"]]
    await batches.release(1)
    assert batches.seen == [["m1"], ["m2"], ["m3", "m4", "m5"], ["m6", "m7"]]
    await batches.release(2)
    await batches.release(3)
    await batches.router.drained()
    assert batches.router._draining == 0


async def test_each_batch_waits_for_the_one_before_it() -> None:
    batches = Batches(batches_in_flight=2)
    await batches.two_on_their_way()
    first, second = batches.previous
    assert first is None
    assert second is not None
    assert not second.done()
    await batches.release(0)
    assert second.done()  # the first batch is settled, so the second may acknowledge


async def test_a_later_batch_is_settled_only_after_an_earlier_slow_one() -> None:
    batches = Batches(batches_in_flight=2)
    await batches.two_on_their_way()
    await batches.deliver("m3")
    await batches.release(1)  # the second batch finishes first ...
    assert len(batches.seen) == 2  # ... but its task waits for the first before going on
    await batches.release(0)
    assert batches.seen[-1] == ["m3"]
    third = batches.previous[-1]
    assert third is not None
    assert third.done()


async def test_a_delivery_arriving_as_every_batch_finishes_is_not_left_behind() -> None:
    batches = Batches(batches_in_flight=2)
    await batches.two_on_their_way()
    # Both batches finish in one turn of the loop and a delivery is queued right behind.
    batches.gates[0].set_result(None)
    batches.gates[1].set_result(None)
    late = asyncio.get_running_loop().create_task(batches.router.handle("m3"))  # type: ignore[arg-type]
    await turns()
    await late
    assert batches.seen[-1] == ["m3"]
    assert batches.router._pending == []
