"""Base64url JSON of msgspec values, as cursors and sign-in cookies carry them."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from services.intake import b64json


class Mark(msgspec.Struct, frozen=True, array_like=True):
    at: dt.datetime
    rank: int


def test_a_value_reads_back_as_itself_without_padding() -> None:
    mark = Mark(dt.datetime(2026, 11, 26, 21, 40, tzinfo=dt.UTC), 3)
    text = b64json.dumps(mark)
    # RFC 4648 §5: base64url, and the `=` padding is left off.
    assert not set(text) & set("=+/")
    assert b64json.loads(text, Mark) == mark


def test_the_text_is_base64url_of_the_json() -> None:
    # base64url of `[1,2]` is WzEsMl0 (RFC 4648 alphabet, padding dropped).
    assert b64json.dumps([1, 2]) == "WzEsMl0"
    assert b64json.loads("WzEsMl0", list[int]) == [1, 2]
    assert b64json.loads("WzEsMl0=", list[int]) == [1, 2]  # padded as well


@pytest.mark.parametrize(
    "text",
    [
        "not base64!",  # characters outside the alphabet
        "bm90IGpzb24",  # base64url of `not json`
        "eyJhIjoxfQ",  # {"a":1}: JSON, not a Mark
        "WzEsMl0",  # [1,2]: a time expected first
        "æøå",  # not ASCII
        "",
    ],
)
def test_anything_else_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="not base64url JSON of a Mark"):
        b64json.loads(text, Mark)
