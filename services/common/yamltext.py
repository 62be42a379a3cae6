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

Mapping keys are always text as written. Aliases, tags, keys given twice, nesting deeper
than `MAX_DEPTH`, files larger than `MAX_FILE_BYTES` and text that is not UTF-8 are
refused: rule and configuration files need none of them, and each is a way to make a file
read differently from how it looks (or to make reading it cost without bound).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi
import yaml

# The default rules are 7 KB and nest 8 levels: far past either is a mistake or an attack
# (a huge file would hold a process for minutes; deep nesting would recurse).
MAX_FILE_BYTES = 1_048_576
MAX_DEPTH = 64

_NULL = re.compile(r"^(?:~|null|)$")
_BOOL = re.compile(r"^(?:true|false)$")
# No leading zeros, no sign on zero, no `+`: every int read here prints back as written.
_INT = re.compile(r"^(?:0|-?[1-9][0-9]*)$")
_FLOAT = re.compile(r"^-?(?:0|[1-9][0-9]*)\.[0-9]+$")
_AT = re.compile(r" - at `(?P<path>\$[^`]*)`$")

_STEP = re.compile(r"\.(?P<key>[^.\[]+)|\[(?P<index>\d+)\]|\[\.\.\.\]")
T = TypeVar("T")


class YamlTextError(ValueError):
    """A YAML file that cannot be used: the file, the line where known, and the problem."""

    def __init__(self, problem: str, *, file: str, line: int | None = None) -> None:
        self.file, self.line, self.problem = file, line, problem
        super().__init__(f"{file}{f':{line}' if line else ''}: {problem}")


class Located(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each key (1-based)."""

    line: int = 0
    key_lines: dict[str, int]


class LocatedList(list[Any]):
    """A YAML sequence that remembers the line of itself and of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


def written(value: Any) -> str:
    """A value read by `load` as it was written in the file (exact for every scalar but
    floats, which print in Python's shortest form)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the resolution table above, and the refusals."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            self.refuse("aliases are not allowed here", event.start_mark)
        if getattr(event, "tag", None) is not None:
            self.refuse(f"tags ({event.tag}) are not allowed here", event.start_mark)
        if self.depth >= MAX_DEPTH:
            self.refuse(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError) as exc:  # a 5,000-digit number, say
            text = node.value if len(node.value) <= 40 else node.value[:40] + "…"
            self.refuse(f"cannot read `{text}`: {exc}", node.start_mark)

    @staticmethod
    def refuse(problem: str, mark: Any) -> Any:
        raise yaml.MarkedYAMLError(None, None, problem, mark)


class _FloatLoader(_Loader):
    """The same, with decimal fractions read as floats."""


_NULL_TAG, _BOOL_TAG = "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool"
_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_DIGITS = list("-0123456789")
_Loader.yaml_implicit_resolvers = {}  # replaces YAML 1.1's table, not extends it
_Loader.add_implicit_resolver(_NULL_TAG, _NULL, ["~", "n", ""])
_Loader.add_implicit_resolver(_BOOL_TAG, _BOOL, list("tf"))
_Loader.add_implicit_resolver(_INT_TAG, _INT, _DIGITS)
_FloatLoader.yaml_implicit_resolvers = {
    k: list(v) for k, v in _Loader.yaml_implicit_resolvers.items()
}
_FloatLoader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, _DIGITS)


def _scalar(loader: _Loader, node: yaml.ScalarNode) -> Any:
    text = node.value
    if node.tag == _NULL_TAG:
        return None
    if node.tag == _BOOL_TAG:
        return text == "true"
    if node.tag == _INT_TAG:
        if len(text) > 64:  # Python refuses past 4,300 digits; no file needs a tenth of that
            raise ValueError(f"a whole number of {len(text)} digits is too long")
        return int(text)
    if node.tag == _FLOAT_TAG:
        return float(text)
    return text


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Located:
    result = Located()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            loader.refuse("a key must be a plain text, not a list or mapping", key_node.start_mark)
        key = key_node.value  # a key is text as written, whatever it looks like
        line = key_node.start_mark.line + 1
        if key in result.key_lines:
            loader.refuse(
                f"key `{key}` is given twice (lines {result.key_lines[key]} and {line})",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList(loader.construct_object(item, deep=True) for item in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [item.start_mark.line + 1 for item in node.value]
    return result


for _tag in (_NULL_TAG, _BOOL_TAG, _INT_TAG, _FLOAT_TAG, "tag:yaml.org,2002:str"):
    _Loader.add_constructor(_tag, _scalar)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


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
    loader = _FloatLoader if floats else _Loader
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


def locate(document: Any, path: str) -> tuple[int | None, Any, bool]:
    """Where a msgspec error path leads in a document read by `load`: the line of the
    deepest node it reaches, that node, and whether the path reached its end."""
    line, node = getattr(document, "line", None), document
    steps = list(_steps(document, path))
    for parent, key, at in steps:
        line, node = at or line, parent[key]
    return line, node, len(steps) == len(_STEP.findall(path.removeprefix("$")))


def convert(document: Any, kind: type[T], file: str) -> T:
    """`msgspec.convert` of a document read by `load`; a failure is a `YamlTextError`
    naming the line, the path and the value as written.

    Where the type expects only text, a plain number or `true`/`false` is the text as
    written (`postal_code: 5003`, `external_id: 12345` are texts): the document is changed
    in place, in one pass guided by the type, before it is converted.
    """
    _texts(document, mi.type_info(kind))
    try:
        return msgspec.convert(document, kind)
    except msgspec.ValidationError as exc:
        message = str(exc)
        found = _AT.search(message)
        if found is None:
            raise YamlTextError(message, file=file, line=getattr(document, "line", None)) from None
        path = found.group("path")
        line, value, reached = locate(document, path)
        problem = f"{path}: {message[: found.start()]}"
        if reached and not isinstance(value, dict | list):
            problem += f" (written `{written(value)}`)"
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


def _texts(node: Any, kind: mi.Type) -> Any:
    """`node` with every int or bool that `kind` takes only as text replaced by its text."""
    kinds = _members(kind)
    if isinstance(node, int):  # bool is an int too
        return written(node) if _text_only(kinds) else node
    if isinstance(node, Located):
        struct = next((k for k in kinds if isinstance(k, mi.StructType)), None)
        mapping = next((k for k in kinds if isinstance(k, mi.DictType)), None)
        if struct is not None:
            fields = {f.encode_name: f.type for f in struct.fields}
            for key in node:
                if key in fields:
                    node[key] = _texts(node[key], fields[key])
        elif mapping is not None:
            for key in node:
                node[key] = _texts(node[key], mapping.value_type)
    elif isinstance(node, LocatedList):
        sequence = next((k for k in kinds if isinstance(k, _SEQUENCES)), None)
        if sequence is not None:
            for i, item in enumerate(node):
                node[i] = _texts(item, sequence.item_type)
    return node


_SEQUENCES = (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)
