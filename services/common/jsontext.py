"""A JSON file read as the intake reads a body: byte order mark, encoding, keys given twice.

For the tools that read a report from a file (`fsi-rules explain`, a rule test's
`report_file`), so that a file the API accepts is accepted here too and one it refuses is
refused for the same reason: a UTF-8 byte order mark is ignored (RFC 8259 section 8.1:
Notepad, PowerShell and .NET write one), a UTF-16 file is named as such, and a key given
twice in one object is refused (RFC 8259 section 4: parsers differ on which one counts).
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")
BOM = b"\xef\xbb\xbf"
_UTF16 = (b"\xff\xfe", b"\xfe\xff")
_BYTE = re.compile(r"\(byte (?P<offset>\d+)\)")
_AT = re.compile(r" - at `(?P<path>\$[^`]*)`$")


class JsonTextError(ValueError):
    """A JSON text that cannot be used: the problem, and its line (1-based) where known."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        self.problem, self.line = problem, line
        super().__init__(f"{line}: {problem}" if line else problem)


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its members in order, keys given twice kept."""


def decode(data: bytes, kind: type[T]) -> T:
    """`data` decoded as `kind`, or `JsonTextError` for the first of: empty, UTF-16, not
    UTF-8, not JSON (with the line and the byte offset in `data`), a key given twice in one
    object (with its path), not `kind` (with the JSON path): the intake's order too."""
    if data.startswith(_UTF16):
        raise JsonTextError(
            "UTF-16 text (it starts with a UTF-16 byte order mark); save it as UTF-8"
        )
    skipped = len(BOM) if data.startswith(BOM) else 0
    body = data[skipped:]
    if not body.strip():
        raise JsonTextError("empty: no JSON in it")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = exc.start + skipped
        raise JsonTextError(f"not UTF-8 text (byte {at})", data.count(b"\n", 0, at) + 1) from None
    try:
        return _checked(msgspec.json.decode(body, type=kind), body)
    except msgspec.ValidationError as exc:
        invalid = str(exc)
    except msgspec.DecodeError as exc:
        raise _malformed(exc, data, skipped) from None
    try:  # not JSON, or a key given twice, is said before what the type refuses
        _checked(msgspec.json.decode(body), body)
    except msgspec.DecodeError as exc:
        raise _malformed(exc, data, skipped) from None
    found = _AT.search(invalid)
    raise JsonTextError(f"{found['path']}: {invalid[: found.start()]}" if found else invalid)


def _checked(value: T, body: bytes) -> T:
    """`value`, decoded from `body`, unless `body` gives a key twice in one object."""
    try:
        repeated = _repeated(json.loads(body, object_pairs_hook=_Pairs), "$")
    except RecursionError:
        raise JsonTextError("nested too deeply to read") from None
    if repeated is not None:
        raise JsonTextError(f"{repeated}: a key given twice in one object; give each key once")
    return value


def _malformed(exc: msgspec.DecodeError, data: bytes, skipped: int) -> JsonTextError:
    """msgspec's message, its byte offset counted in `data` as sent, and the line."""
    message, line = str(exc), None
    if found := _BYTE.search(message):
        at = int(found["offset"]) + skipped
        line = data.count(b"\n", 0, at) + 1
        message = message[: found.start()] + f"(byte {at})" + message[found.end() :]
    return JsonTextError(message, line)


def _repeated(value: Any, path: str) -> str | None:
    """The path of the first key given twice in one object, depth first; None if none."""
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, item in value:
            if key in seen:
                return f"{path}.{key}"
            seen.add(key)
            if (found := _repeated(item, f"{path}.{key}")) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _repeated(item, f"{path}[{index}]")) is not None:
                return found
    return None
