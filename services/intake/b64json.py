"""A msgspec value as base64url JSON without padding: the form a cursor or a cookie carries."""

from __future__ import annotations

import base64
from typing import TypeVar

import msgspec

T = TypeVar("T")


def dumps(value: object) -> str:
    """`value` (anything msgspec encodes) as JSON, then base64url without `=` padding."""
    return base64.urlsafe_b64encode(msgspec.json.encode(value)).rstrip(b"=").decode()


def loads(text: str, kind: type[T]) -> T:
    """The `kind` that `dumps` made `text` of. Raises `ValueError` when `text` is not base64url
    (padding may be left off), not JSON, or not a `kind`."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return msgspec.json.decode(raw, type=kind)
    except (ValueError, msgspec.DecodeError) as exc:  # binascii.Error is a ValueError
        raise ValueError(f"not base64url JSON of a {kind.__name__}") from exc
