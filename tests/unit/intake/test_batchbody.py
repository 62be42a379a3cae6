"""A batch body split into its items without decoding them; the rate a batch costs."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import msgspec
import pytest

from services.intake import batchbody
from services.intake.access import Client, RateLimiter
from services.intake.validation import REPEATED, UNKNOWN_FIELD, NotJson, Problem


def problems(body: bytes) -> list[Problem]:
    with pytest.raises(batchbody.BatchProblems) as caught:
        batchbody.items(body, 10)
    return caught.value.problems


def test_msgspec_says_where_the_text_after_a_value_starts() -> None:
    # What the reader rests on: the offset counts to just past the first character after
    # (the `,` is the 8th byte).
    with pytest.raises(msgspec.DecodeError, match=r"trailing characters \(byte 8\)"):
        msgspec.json.decode(b"[1, 2] ,", type=msgspec.Raw)


@pytest.mark.parametrize(
    "items",
    [
        [1],
        [{"a": [1, {"b": "]},"}]}, "x,]", None, True, -1.5e3],
        [{"incident": {"description": 'line\n"quoted" \\ end'}}],
        [[]] * 10,
    ],
)
def test_items_are_the_values_as_sent(items: list[Any]) -> None:
    for spacing in (None, 2):
        body = json.dumps({"reports": items}, indent=spacing).encode()
        found = batchbody.items(b"\xef\xbb\xbf " + body + b"\n", 10)
        assert [json.loads(item) for item in found] == items
        assert all(item == item.strip() for item in found)


def test_counting_stops_at_the_first_item_too_many() -> None:
    assert len(batchbody.items(b'{"reports": [' + b"1," * 9 + b"1]}", 10)) == 10
    with pytest.raises(batchbody.TooManyItems):
        batchbody.items(b'{"reports": [' + b"1," * 10 + b"1]}", 10)
    # Even when the rest is no JSON at all: nothing past the limit is read.
    with pytest.raises(batchbody.TooManyItems):
        batchbody.items(b'{"reports": [' + b"1," * 11 + b"oops", 10)


def test_many_tiny_items_cost_no_memory_of_their_own() -> None:
    body = b'{"reports": [' + b"1," * 2_000_000 + b"1]}"
    tracemalloc.start()
    try:
        with pytest.raises(batchbody.TooManyItems):
            batchbody.items(body, 1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # the 1,001 items read, not the two million sent


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[1]", [Problem("$", "Expected `object`, got `array`")]),
        (b"{}", [Problem("$.reports", "Object missing required field")]),
        (b'{"reports": []}', [Problem("$.reports", "Expected `array` of length >= 1")]),
        (b'{"reports": 1.5}', [Problem("$.reports", "Expected `array`, got `float`")]),
        (b'{"reports": "x"}', [Problem("$.reports", "Expected `array`, got `str`")]),
        (b'{"reports": [], "reports": [1]}', [Problem("$.reports", REPEATED)]),
        (
            b'{"12345678901": 1, "reports": [1]}',
            [Problem("$.…", UNKNOWN_FIELD)],
        ),
    ],
)
def test_the_batch_object_is_checked_without_echo(body: bytes, expected: list[Problem]) -> None:
    assert problems(body) == expected


def test_an_object_of_many_unknown_keys_is_read_only_so_far() -> None:
    body = b"{" + b",".join(b'"k%d": 1' % i for i in range(100_000)) + b"}"
    assert problems(body) == [
        Problem("$.…", UNKNOWN_FIELD),
        Problem("$.reports", "Object missing required field"),
    ]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"reports": [1 2]}', "invalid character (byte 15)"),
        (b'{"reports": [1,]}', "invalid character (byte 15)"),
        (b'{"reports": [1]', "ends before"),
        (b'{"reports": [1]} x', "trailing characters (byte 17)"),
        (b'{"reports": [[1,]]}', "(byte 16)"),
        (b'{"reports": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", "nested too deeply"),
    ],
)
def test_a_body_that_is_not_json_says_where(body: bytes, says: str) -> None:
    with pytest.raises(NotJson, match=says.replace("(", r"\(").replace(")", r"\)")):
        batchbody.items(body, 10)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_batch_costs_a_token_for_each_item() -> None:
    client = Client(id="c", key_sha256="0" * 64)
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=10, clock=clock)
    # As the intake charges a batch: one token when it comes in, the rest once counted.
    assert limiter.take(client) is None
    assert limiter.take(client, 5, paid=1) is None  # a batch of 6: 4 tokens left
    assert limiter.take(client) is None
    # A batch of 5 with 3 left: refused until 5 are there, since the retry pays its first again.
    wait = limiter.take(client, 4, paid=1)
    assert wait == pytest.approx((5 - 3) / 2)
    assert wait is not None
    clock.now += wait
    assert limiter.take(client) is None
    assert limiter.take(client, 4, paid=1) is None


def test_a_batch_larger_than_the_burst_leaves_the_bucket_owing() -> None:
    client = Client(id="c", key_sha256="0" * 64)
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=10, clock=clock)
    assert limiter.take(client) is None
    assert limiter.take(client, 29, paid=1) is None  # 30 items from a full bucket of 10
    # 20 owed, then one for the next request: 10.5 s at 2 a second; the average holds.
    assert limiter.take(client) == pytest.approx(10.5)
    clock.now += 5
    assert limiter.take(client) == pytest.approx(5.5)
    clock.now += 5.5
    assert limiter.take(client) is None
