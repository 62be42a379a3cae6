"""The strict YAML loader under `yamltext`: its resolution table, its refusals, its lines.

PyYAML's safe loader with YAML 1.1's implicit types replaced (a plain value is null, a
bool, a decimal whole number without leading zeros, with `FloatLoader` a decimal fraction,
or else text), aliases, tags, keys given twice and deep nesting refused, and every mapping
and sequence built as a `Located` or `LocatedList` that knows its lines and its quoted
members as written. Read it through `yamltext.load`, which turns refusals into messages.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

# The default rules nest 8 levels: far past it is a mistake or an attack (deep nesting
# would recurse).
MAX_DEPTH = 64

_NULL = re.compile(r"^(?:~|null|)$")
_BOOL = re.compile(r"^(?:true|false)$")
# No leading zeros, no sign on zero, no `+`: every int read here prints back as written.
_INT = re.compile(r"^(?:0|-?[1-9][0-9]*)$")
_FLOAT = re.compile(r"^-?(?:0|[1-9][0-9]*)\.[0-9]+$")


class Located(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each key (1-based), and the
    source text of each value that was quoted (`quoted`: key -> `"12"`)."""

    line: int = 0
    key_lines: dict[str, int]
    quoted: dict[str, str]


class LocatedList(list[Any]):
    """A YAML sequence that remembers the line of itself and of each item (1-based), and the
    source text of each item that was quoted (`quoted`: index -> `'x'`)."""

    line: int = 0
    item_lines: list[int]
    quoted: dict[int, str]


def _source(loader: Any, node: Any) -> str | None:
    """The source text of a quoted scalar, quotes included (one line at most 80 long: a
    longer one is shown as its value in double quotes)."""
    if not isinstance(node, yaml.ScalarNode) or node.style not in {"'", '"'}:
        return None
    text = str(loader.buffer[node.start_mark.index : node.end_mark.index])
    if "\n" in text or len(text) > 80 or not text.startswith(node.style):
        value = str(node.value)
        value = value if len(value) <= 40 else value[:40] + "…"
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


class Loader(yaml.SafeLoader):
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


class FloatLoader(Loader):
    """The same, with decimal fractions read as floats."""


_NULL_TAG, _BOOL_TAG = "tag:yaml.org,2002:null", "tag:yaml.org,2002:bool"
_INT_TAG, _FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_DIGITS = list("-0123456789")
Loader.yaml_implicit_resolvers = {}  # replaces YAML 1.1's table, not extends it
Loader.add_implicit_resolver(_NULL_TAG, _NULL, ["~", "n", ""])
Loader.add_implicit_resolver(_BOOL_TAG, _BOOL, list("tf"))
Loader.add_implicit_resolver(_INT_TAG, _INT, _DIGITS)
FloatLoader.yaml_implicit_resolvers = {
    k: list(v) for k, v in Loader.yaml_implicit_resolvers.items()
}
FloatLoader.add_implicit_resolver(_FLOAT_TAG, _FLOAT, _DIGITS)


def _scalar(loader: Loader, node: yaml.ScalarNode) -> Any:
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


def _mapping(loader: Loader, node: yaml.MappingNode) -> Located:
    result = Located()
    result.line = node.start_mark.line + 1
    result.key_lines, result.quoted = {}, {}
    marks: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            loader.refuse("a key must be a plain text, not a list or mapping", key_node.start_mark)
        key = key_node.value  # a key is text as written, whatever it looks like
        mark = key_node.start_mark
        if key in marks:
            first = marks[key]
            where = (
                f"line {mark.line + 1}, columns {first.column + 1} and {mark.column + 1}"
                if first.line == mark.line  # a flow mapping on one line
                else f"lines {first.line + 1} and {mark.line + 1}"
            )
            loader.refuse(f"key `{key}` is given twice ({where})", mark)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key], marks[key] = mark.line + 1, mark
        if (source := _source(loader, value_node)) is not None:
            result.quoted[key] = source
    return result


def _sequence(loader: Loader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList(loader.construct_object(item, deep=True) for item in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [item.start_mark.line + 1 for item in node.value]
    result.quoted = {
        i: source for i, item in enumerate(node.value) if (source := _source(loader, item))
    }
    return result


for _tag in (_NULL_TAG, _BOOL_TAG, _INT_TAG, _FLOAT_TAG, "tag:yaml.org,2002:str"):
    Loader.add_constructor(_tag, _scalar)
Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
