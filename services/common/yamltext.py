"""Strict YAML reading: a plain value means what it says, and every mapping knows its lines.

Every YAML file the project reads (routing rules, rule tests, the unit catalogue, the API
clients file, the source mappings) goes through `load`. PyYAML's own reading is YAML 1.1,
where `1:30` is the number 90, `0301` the octal number 193, `no` and `on` booleans and
`2026-11-27 12:00:00` a timestamp. Here a plain (unquoted) value is only ever:

| written | read as |
|---|---|
| `null`, `~` or nothing | None |
| `true`, `false` | a bool |
| a decimal whole number without leading zeros (`0`, `7`, `-12`) | an int |
| a decimal fraction (`0.5`), only where the file asks for `floats` | a float |
| anything else: `1:30`, `0301`, `0o17`, `0x1F`, `1_000`, `no`, `on`, `2026-11-27` | text |

Mapping keys are always text as written. A quoted value (`"12"`, `'1'`) is text, and its
container remembers how it was written, so a message quotes `hours: "12"`, never `hours: 12`
(`written_in`). Where a type asks for a time, `convert` reads text as ISO 8601 (`2026-11-27
12:00`, `2026-11-27T12:00:00+01:00`; without an offset the caller's zone applies). Aliases,
tags, keys given twice, nesting deeper than `MAX_DEPTH`, files larger than `MAX_FILE_BYTES`
and text that is not UTF-8 are refused: rule and configuration files need none of them, and
each is a way to make a file read differently from how it looks (or to make reading it cost
without bound).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi
import yaml

from services.common.yamlloader import MAX_DEPTH, FloatLoader, Loader, Located, LocatedList

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "Located",
    "LocatedList",
    "YamlTextError",
    "convert",
    "is_quoted",
    "load",
    "load_file",
    "read_text",
    "time_of",
    "written",
    "written_in",
]

# The default rules are 7 KB: far past it is a mistake or an attack (a huge file would hold
# a process for minutes).
MAX_FILE_BYTES = 1_048_576
_AT = re.compile(r" - at `(?P<path>\$[^`]*)`$")

_STEP = re.compile(r"\.(?P<key>[^.\[]+)|\[(?P<index>\d+)\]|\[\.\.\.\]")
T = TypeVar("T")


class YamlTextError(ValueError):
    """A YAML file that cannot be used: the file, the line where known, and the problem."""

    def __init__(self, problem: str, *, file: str, line: int | None = None) -> None:
        self.file, self.line, self.problem = file, line, problem
        super().__init__(f"{file}{f':{line}' if line else ''}: {problem}")


def written(value: Any) -> str:
    """A value read by `load` as it was written in the file (exact for every plain scalar
    but floats, which print in Python's shortest form; a list or mapping in flow style, its
    quoted members with their quotes). A quoted scalar alone is shown without its quotes:
    `written_in` knows them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(written_in(value, i) for i in range(len(value))) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {written_in(value, k)}" for k in value) + "}"
    return str(value)


def written_in(container: Any, key: Any) -> str:
    """`container[key]` as written in the file, with its quotes if it was quoted."""
    source = getattr(container, "quoted", {}).get(key)
    return source if source is not None else written(container[key])


def is_quoted(container: Any, key: Any) -> bool:
    """Whether `container[key]` was written in quotes (and so is text, whatever it reads)."""
    return key in getattr(container, "quoted", {})


def time_of(text: str) -> dt.datetime:
    """A time written as ISO 8601 (`2026-11-27 12:00`, `2026-11-27T12:00:00+01:00`,
    `2026-11-27`: midnight), or as RFC 3339; naive where no offset is written.
    `ValueError` when it is neither."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        try:  # RFC 3339 forms that fromisoformat does not read: nanoseconds, a lower-case t
            return msgspec.convert(text, dt.datetime)
        except msgspec.ValidationError:
            raise ValueError(f"`{text}` is not a date or time") from None


def read_text(path: Path, limit: int = MAX_FILE_BYTES) -> str:
    """A file's text, or `YamlTextError`: larger than `limit` bytes, or not UTF-8.
    `OSError` (a missing or unreadable file) is the caller's to report."""
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise YamlTextError(
            f"larger than {limit} bytes (the limit is passed on this line)",
            file=str(path),
            line=data.count(b"\n") + 1,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlTextError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
            file=str(path),
            line=data.count(b"\n", 0, exc.start) + 1,
        ) from None


def load(text: str, file: str, *, floats: bool = False) -> Any:
    """The YAML document read as the table above says, or `YamlTextError` with its line.

    Mappings come back as `Located`, sequences as `LocatedList`; `file` only names the
    source in errors. `floats` reads decimal fractions as floats (else they stay text).
    """
    loader = FloatLoader if floats else Loader
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader with fewer types
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise YamlTextError(str(exc.problem or exc), file=file, line=line) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, such as NUL
        line = text.count("\n", 0, exc.position) + 1
        raise YamlTextError(f"{exc.reason}: U+{exc.character:04X}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise YamlTextError(str(exc), file=file) from None


def load_file(path: Path, *, floats: bool = False, limit: int = MAX_FILE_BYTES) -> Any:
    """`read_text` then `load`."""
    return load(read_text(path, limit), str(path), floats=floats)


def _steps(document: Any, path: str) -> Iterator[tuple[Any, Any, int | None]]:
    """The containers and keys a msgspec error path (`$.cases[2].report.source`) walks
    through in a document read by `load`, each with the line of the node it reaches; it
    stops at a step the document does not have, or at a dict's value (`[...]`, unnamed)."""
    node = document
    for step in _STEP.finditer(path.removeprefix("$")):
        key, index = step.group("key"), step.group("index")
        if key is not None and isinstance(node, Located) and key in node:
            yield node, key, node.key_lines.get(key)
            node = node[key]
        elif index is not None and isinstance(node, LocatedList) and int(index) < len(node):
            yield node, int(index), node.item_lines[int(index)]
            node = node[int(index)]
        else:
            return


def convert(document: Any, kind: type[T], file: str) -> T:
    """`msgspec.convert` of a document read by `load`; a failure is a `YamlTextError`
    naming the line, the path and the value as written. The document is left as read.

    Guided by the type, in one pass before converting: where it expects only text, a plain
    number or `true`/`false` is the text as written (`postal_code: 5003`, `external_id:
    12345` are texts); where it expects a time, text is read by `time_of`, so a time is
    written as in the rest of the file (`2026-11-27 10:00`), and one that is no time is
    refused here, named as such.
    """
    plain = _plain(document, mi.type_info(kind), "$", file, getattr(document, "line", None))
    try:
        return msgspec.convert(plain, kind)
    except msgspec.ValidationError as exc:
        message = str(exc)
        found = _AT.search(message)
        if found is None:
            raise YamlTextError(message, file=file, line=getattr(document, "line", None)) from None
        path = found.group("path")
        steps = list(_steps(document, path))
        line = next((at for _, _, at in reversed(steps) if at), getattr(document, "line", None))
        problem = f"{path}: {message[: found.start()]}"
        if steps and len(steps) == len(_STEP.findall(path.removeprefix("$"))):
            parent, key, _ = steps[-1]
            if not isinstance(parent[key], dict | list):
                problem += f" (written `{written_in(parent, key)}`)"
        raise YamlTextError(problem, file=file, line=line) from None


def _members(kind: mi.Type) -> tuple[mi.Type, ...]:
    while isinstance(kind, mi.Metadata):
        kind = kind.type
    if isinstance(kind, mi.UnionType):
        return tuple(m for t in kind.types for m in _members(t))
    return (kind,)


def _text_only(kinds: tuple[mi.Type, ...]) -> bool:
    texts = any(
        isinstance(k, mi.StrType)
        or (isinstance(k, mi.EnumType) and issubclass(k.cls, str))
        or (isinstance(k, mi.LiteralType) and any(isinstance(v, str) for v in k.values))
        for k in kinds
    )
    numbers = any(
        isinstance(k, mi.IntType | mi.BoolType | mi.FloatType | mi.AnyType) for k in kinds
    )
    return texts and not numbers


def _plain(node: Any, kind: mi.Type, path: str, file: str, line: int | None) -> Any:
    """A copy of `node` with every int or bool that `kind` takes only as text replaced by
    its text, and every text where `kind` takes a time read as one (`YamlTextError` at
    `path` and `line` when it is none)."""
    kinds = _members(kind)
    if isinstance(node, int):  # bool is an int too
        return written(node) if _text_only(kinds) else node
    if isinstance(node, str):
        if any(isinstance(k, mi.DateTimeType) for k in kinds):
            try:
                return time_of(node)
            except ValueError:
                problem = (
                    f"{path}: `{node}` is not a date or time (write 2026-11-30T10:05:00+01:00)"
                )
                raise YamlTextError(problem, file=file, line=line) from None
        return node
    if isinstance(node, dict):
        lines = getattr(node, "key_lines", {})
        struct = next((k for k in kinds if isinstance(k, mi.StructType)), None)
        mapping = next((k for k in kinds if isinstance(k, mi.DictType)), None)
        fields = {f.encode_name: f.type for f in struct.fields} if struct is not None else {}
        inner = mapping.value_type if mapping is not None and struct is None else None
        return {
            key: _plain(value, fields[key], f"{path}.{key}", file, lines.get(key, line))
            if key in fields
            else _plain(value, inner, f"{path}[...]", file, lines.get(key, line))
            if inner is not None
            else value
            for key, value in node.items()
        }
    if isinstance(node, list):
        lines = getattr(node, "item_lines", [])
        sequence = next((k for k in kinds if isinstance(k, _SEQUENCES)), None)
        if sequence is None:
            return list(node)
        return [
            _plain(item, sequence.item_type, f"{path}[{i}]", file, lines[i] if lines else line)
            for i, item in enumerate(node)
        ]
    return node


_SEQUENCES = (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)
