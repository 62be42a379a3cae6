"""A batch body split into its items before any is decoded, counting them on the way (pure).

Decoding `{"reports": [...]}` whole builds an object for every item before their number is
known: 32 MiB of `1,` is 16 million of them, over a gigabyte. Here msgspec reads each item
only to find where it ends (a JSON value read into `msgspec.Raw` builds nothing), so the
count stops at one past the limit and memory stays the body and the items kept.
"""

from __future__ import annotations

import re

import msgspec

from services.common.jsontext import BOM
from services.intake.validation import (
    MAX_PROBLEMS,
    REPEATED,
    UNKNOWN_FIELD,
    UNKNOWN_KEY,
    NotJson,
    Problem,
)

FIELD = "reports"
_WHITE = re.compile(rb"[ \t\r\n]*")
# msgspec reads one value and says where the text after it starts: "trailing characters
# (byte N)", N counting to just past that character (a unit test holds msgspec to it).
_TRAILING = re.compile(r"trailing characters \(byte (\d+)\)")
_BYTE = re.compile(r"\(byte (\d+)\)")
_RAW = msgspec.json.Decoder(msgspec.Raw)
_KEY = msgspec.json.Decoder(str)
_KINDS = {ord("{"): "object", ord("["): "array", ord('"'): "str", ord("n"): "null"}
_KINDS |= {ord("t"): "bool", ord("f"): "bool"}
_NUMBER = frozenset(b"-0123456789")


class BatchProblems(ValueError):
    """The batch's own object is not `{"reports": [...]}` (its items are judged apart)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class TooManyItems(ValueError):
    """More items than a batch may hold (found at the first one too many)."""


def items(sent: bytes, max_items: int) -> list[bytes]:
    """The items of a batch body, each as sent; `NotJson` when the body is not JSON,
    `BatchProblems` when it is not one object with one array `reports` of at least one item,
    `TooManyItems` as soon as there is one item more than `max_items`."""
    skipped = len(BOM) if sent.startswith(BOM) else 0
    view = memoryview(sent)[skipped:]
    try:
        return _Reader(view, skipped).batch(max_items)
    except RecursionError:
        raise NotJson("the JSON is nested too deeply") from None


class _Reader:
    def __init__(self, view: memoryview, skipped: int) -> None:
        self.view, self.skipped, self.at = view, skipped, 0

    def batch(self, max_items: int) -> list[bytes]:
        self._white()
        if self._next() != ord("{"):
            kind = self._kind()
            self._value()
            self.end()
            raise BatchProblems([Problem("$", f"Expected `object`, got `{kind}`")])
        self.at += 1
        problems: list[Problem] = []
        found: list[bytes] | None = None
        self._white()
        closed = self._next() == ord("}")
        self.at += closed
        # The object has one member; a few more are named, then reading stops (what an
        # object of a million unknown keys holds is not worth reading).
        for _ in range(MAX_PROBLEMS):
            if closed:
                break
            key = self._key()
            if key != FIELD:
                self._value()
                problems.append(Problem(f"$.{UNKNOWN_KEY}", UNKNOWN_FIELD))
            elif found is not None:
                self._value()
                problems.append(Problem(f"$.{FIELD}", REPEATED))
            elif self._next() != ord("["):
                problems.append(Problem(f"$.{FIELD}", f"Expected `array`, got `{self._kind()}`"))
                self._value()
                found = []
            else:
                found = self._array(max_items)
                if not found:
                    problems.append(Problem(f"$.{FIELD}", "Expected `array` of length >= 1"))
            closed = self._separator(ord("}"))
        if closed:
            self.end()
        if found is None:
            problems.append(Problem(f"$.{FIELD}", "Object missing required field"))
        # A key given twice comes first and alone: which of the two is meant is unknown.
        repeated = [p for p in problems if p.message == REPEATED]
        if problems:
            raise BatchProblems(list(dict.fromkeys(repeated or problems)))
        return found or []

    def _array(self, max_items: int) -> list[bytes]:
        self.at += 1
        self._white()
        if self._next() == ord("]"):
            self.at += 1
            return []
        found: list[bytes] = []
        while True:
            start = self.at
            self._value()
            found.append(bytes(self.view[start : self.at]))
            if len(found) > max_items:
                raise TooManyItems
            if self._separator(ord("]")):
                return found

    def _separator(self, closing: int) -> bool:
        """Past a `,` (False) or the closing bracket (True); anything else is not JSON."""
        self._white()
        here = self._next()
        if here not in (ord(","), closing):
            raise self._not_json("invalid character")
        self.at += 1
        if here == ord(","):
            self._white()
        return here == closing

    def _key(self) -> str:
        start = self.at
        if self._next() != ord('"'):
            raise self._not_json("expected '\"'")
        self._value()
        key = _KEY.decode(self.view[start : self.at])
        self._white()
        if self._next() != ord(":"):
            raise self._not_json("expected ':'")
        self.at += 1
        self._white()
        return key

    def _value(self) -> None:
        """Past one JSON value (not past white space after it); msgspec checks the value and
        builds nothing."""
        start = self.at
        try:
            _RAW.decode(self.view[start:])
            self.at = len(self.view)
        except msgspec.DecodeError as exc:
            trailing = _TRAILING.search(str(exc))
            if trailing is None:
                raise self._moved(str(exc), start) from None
            self.at = start + int(trailing.group(1)) - 1  # the next character after the value
        while self.at > start and self.view[self.at - 1] in b" \t\r\n":
            self.at -= 1

    def end(self) -> None:
        """Nothing but white space may follow the batch's object."""
        self._white()
        if self.at < len(self.view):
            raise self._not_json("trailing characters")

    def _white(self) -> None:
        self.at = _WHITE.match(self.view, self.at).end()  # type: ignore[union-attr]

    def _next(self) -> int | None:
        return self.view[self.at] if self.at < len(self.view) else None

    def _kind(self) -> str:
        """What the value here is, in msgspec's words (`int`, `str`, ...), without reading it
        when it may be large."""
        here = self._next()
        if here is None or here not in _NUMBER:
            return _KINDS.get(here or 0, "value")
        start = self.at
        self._value()
        number, self.at = bytes(self.view[start : self.at]), start
        return "float" if any(c in number for c in b".eE") else "int"

    def _not_json(self, why: str) -> NotJson:
        if self.at >= len(self.view):
            return NotJson("JSON is malformed: the body ends before the JSON does")
        return NotJson(f"JSON is malformed: {why} (byte {self.at + self.skipped})")

    def _moved(self, message: str, start: int) -> NotJson:
        """msgspec's message about the value at `start`, its offset in the body as sent."""
        moved = _BYTE.sub(lambda m: f"(byte {int(m.group(1)) + start + self.skipped})", message)
        return NotJson(moved)
