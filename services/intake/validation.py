"""Decoding with every problem named: msgspec stops at the first error, this keeps going.

The fast path is one `msgspec.json.decode` into the contract type. Only when that fails
is the body decoded as plain JSON and walked field by field against the type, so a `422`
lists every missing, unknown and ill-typed field with its JSON path. Every body is also
read once more for a key given twice in one object, which msgspec would settle silently.
"""

from __future__ import annotations

import json
import re
import types
import typing
from typing import Any, TypeVar

import msgspec

from schemas.textrules import in_words

# RFC 8259 section 8.1: a parser MAY ignore a byte order mark; some clients (.NET's
# Encoding.UTF8, PowerShell, Notepad) write one. The tools read files the same way.
from services.common.jsontext import BOM

T = TypeVar("T")
MAX_PROBLEMS = 100
_AT = re.compile(r" - at `\$(?P<rest>[^`]*)`$")
# msgspec quotes the offending value in a few messages ("Invalid enum value 'x'"); a value
# may be personal data, so a problem names the path and what is wrong, never the value.
_VALUE_ECHO = re.compile(r"^(Invalid (?:enum )?value) .*$", re.DOTALL)
# ... and the key of an unknown field, which may be anything (an identity number used as a key).
_UNKNOWN_FIELD = re.compile(r"unknown field `[^`]*`")
UNKNOWN_FIELD = "Object contains unknown field"
# U+0000 can be sent only escaped (a raw NUL byte is not JSON): `\u0000` after an even number
# of backslashes (`\\u0000` is a backslash and the text "u0000").
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# "Of the report": a batch's item is counted from its own first byte, as its problems are.
NUL = "U+0000 (NUL, written `\\u0000`) is at byte {at} of the report as sent: no text may hold it"
# A key that is not a field of ours stands in a path as this: a client's own key names may
# be personal data, and a path is shown in a problem.
UNKNOWN_KEY = "…"
REPEATED = "Object key given more than once (RFC 7493 section 2.3): send each key once"


class Problem(msgspec.Struct, frozen=True):
    """One thing wrong with the input, and where: a JSON path such as `$.persons[0].role`."""

    path: str
    message: str


class ReportProblems(ValueError):
    """A report that cannot be taken in as sent: its source format cannot become a canonical
    report, or standardisation made one that breaks the contract (text that NFC normalisation
    made longer than allowed, say). Each problem names its path in what the sender sent."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class NotJson(ValueError):
    """The body is not JSON at all."""


def _split(message: str, path: str) -> Problem:
    match = _AT.search(message)
    if match is not None:
        path, message = path + match.group("rest"), message[: match.start()]
    message = _UNKNOWN_FIELD.sub("unknown field", _VALUE_ECHO.sub(r"\1", message))
    return Problem(path, in_words(message))


def _unwrap(tp: Any) -> tuple[Any, Any]:
    """(plain type, original annotation) without Annotated."""
    base = tp
    while typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    return base, tp


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _walk_struct(value: Any, cls: type[msgspec.Struct], path: str) -> list[Problem]:
    if not isinstance(value, dict):
        return [Problem(path, "Expected `object`, got `" + _json_kind(value) + "`")]
    problems: list[Problem] = []
    fields = msgspec.structs.fields(cls)
    known = {f.encode_name for f in fields}
    for field in fields:
        where = f"{path}.{field.encode_name}"
        if field.encode_name in value:
            problems += walk(value[field.encode_name], field.type, where)
        elif field.required:
            problems.append(Problem(where, "Object missing required field"))
    if cls.__struct_config__.forbid_unknown_fields:
        # Named as the repeated keys are: `…`, once however many (their names are the
        # client's own, never shown).
        unknown = sum(1 for k in value if k not in known)
        if unknown:
            many = f" ({unknown} of them)" if unknown > 1 else ""
            problems.append(Problem(f"{path}.{UNKNOWN_KEY}", UNKNOWN_FIELD + many))
    return problems


def _walk_list(
    value: Any, constraints: tuple[Any, ...], item_type: Any, path: str
) -> list[Problem]:
    if not isinstance(value, list):
        return [Problem(path, "Expected `array`, got `" + _json_kind(value) + "`")]
    problems: list[Problem] = []
    if constraints:
        try:
            # Length constraints only: items are checked one by one below.
            msgspec.convert(value, typing.Annotated[list[Any], *constraints])
        except msgspec.ValidationError as exc:
            problems.append(_split(str(exc), path))
    for index, item in enumerate(value[:MAX_PROBLEMS]):
        problems += walk(item, item_type, f"{path}[{index}]")
    return problems


def walk(value: Any, tp: Any, path: str = "$") -> list[Problem]:
    """Every problem of `value` against type `tp`, each with its path."""
    if tp is msgspec.Raw:
        return []  # any JSON value is a raw value (a batch item, judged on its own later)
    try:
        msgspec.convert(value, tp)
        return []
    except msgspec.ValidationError as exc:
        first = _split(str(exc), path)
    base, annotation = _unwrap(tp)
    origin = typing.get_origin(base)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(base) if a is not type(None)]
        if value is not None and len(options) == 1:
            return walk(value, options[0], path)
        return [first]
    if _is_struct(base):
        found = _walk_struct(value, base, path)
        # Nothing wrong field by field: the struct's own rule (__post_init__) failed.
        return found or [first]
    if origin is list:
        constraints = typing.get_args(annotation)[1:] if annotation is not base else ()
        return _walk_list(value, constraints, typing.get_args(base)[0], path) or [first]
    return [first]


def _json_kind(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "str",
        bool: "bool",
        int: "int",
        float: "float",
    }.get(type(value), "null")


_AT_BYTE = re.compile(r"\(byte (\d+)\)")


def _why(exc: Exception, body: bytes, skipped: int) -> str:
    """Why the body is not JSON, at the byte offset in the body as sent (`skipped` bytes of a
    byte order mark were not read)."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "the body is UTF-16 (it starts with a UTF-16 byte order mark); send UTF-8"
    if not isinstance(exc, UnicodeDecodeError):
        return _AT_BYTE.sub(lambda m: f"(byte {int(m.group(1)) + skipped})", str(exc))
    try:  # msgspec counts from the start of the string it was reading; say where in the body
        body.decode("utf-8")
    except UnicodeDecodeError as found:
        return f"the body is not valid UTF-8 (byte {found.start})"
    return "the body is not valid UTF-8"


class _Repeated(Exception):
    """A key was found twice in one object (where is found by `_repeats`)."""


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its members in order, repeats kept."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _Repeated
    return found


def _field_types(tp: Any) -> dict[str, Any]:
    return {f.encode_name: f.type for f in msgspec.structs.fields(tp)} if _is_struct(tp) else {}


def _inner(tp: Any) -> Any:
    """`tp` without Annotated and without `| None`; None where the type says nothing."""
    base, _ = _unwrap(tp)
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(base) if a is not type(None)]
        return _inner(options[0]) if len(options) == 1 else None
    return base


def _repeats(value: Any, tp: Any, path: str, found: list[Problem]) -> None:
    """Every key given twice in one object, by path; a key that is not a field of ours is
    shown as `UNKNOWN_KEY`, and raw values (batch items) are left to their own decoding."""
    base = _inner(tp)
    if base is msgspec.Raw or len(found) >= MAX_PROBLEMS:
        return
    if isinstance(value, _Pairs):
        fields, seen = _field_types(base), set()
        for key, item in value:
            where = f"{path}.{key if key in fields else UNKNOWN_KEY}"
            if key in seen and Problem(where, REPEATED) not in found:
                found.append(Problem(where, REPEATED))
            seen.add(key)
            _repeats(item, fields.get(key), where, found)
    elif isinstance(value, list):
        item_type = typing.get_args(base)[0] if typing.get_origin(base) is list else None
        for index, item in enumerate(value):
            _repeats(item, item_type, f"{path}[{index}]", found)


def repeated_keys(text: str, tp: Any) -> list[Problem]:
    """Keys given twice in one object of a JSON text (already known to be JSON): two parsers
    may read such a text differently (RFC 8259 section 4), so it is refused, not settled."""
    try:
        json.loads(text, object_pairs_hook=_unique)
        return []
    except _Repeated:
        found: list[Problem] = []
        _repeats(json.loads(text, object_pairs_hook=_Pairs), tp, "$", found)
        return found


def decode(
    body: bytes, tp: type[T], *, check_repeats: bool = True
) -> tuple[T | None, list[Problem]]:
    """The body decoded as `tp`, or every problem found (a key given twice is one, unless
    `check_repeats` is off because the caller knows there is none); a UTF-8 byte order mark
    is ignored; `NotJson` when it is not JSON."""
    try:
        return _decode(body, tp, check_repeats)
    except RecursionError:
        raise NotJson("the JSON is nested too deeply") from None


def _decode(sent: bytes, tp: type[T], check_repeats: bool) -> tuple[T | None, list[Problem]]:
    skipped = len(BOM) if sent.startswith(BOM) else 0
    body = sent[skipped:]
    value: T | None = None
    plain: Any = None
    try:
        value = msgspec.json.decode(body, type=tp)
    except msgspec.ValidationError:
        try:
            plain = msgspec.json.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise NotJson(_why(exc, sent, skipped)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise NotJson(_why(exc, sent, skipped)) from None
    # One problem for U+0000 in the whole body, not one for every text that holds it.
    if value is None and (nul := _ESCAPED_NUL.search(body)) is not None:
        return None, [Problem("$", NUL.format(at=nul.end() - len(b"\\u0000") + skipped))]
    # msgspec has read it as UTF-8 JSON, so the standard library can read it too.
    repeated = repeated_keys(body.decode("utf-8"), tp) if check_repeats else []
    if repeated:
        return None, repeated
    if value is not None:
        return value, []
    problems = walk(plain, tp)
    return None, problems[:MAX_PROBLEMS] or [Problem("$", "invalid")]
