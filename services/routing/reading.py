"""Reading rule files: YAML with line numbers, a typed error hierarchy, a checking reader.

Shared by the rules loader (`rules`) and the condition compiler (`conditions`), so that
every error names the file, the line and the rule.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml

DURATION_KEYS = frozenset({"weeks", "days", "hours", "minutes"})
# The default rules are 7 KB and nest 8 levels: far past either is a mistake or an attack
# (a huge file would hold the router's loop for minutes; deep nesting would recurse).
MAX_FILE_BYTES = 1_048_576
MAX_DEPTH = 64


class RulesError(ValueError):
    """A rules or unit file that cannot be used; says where."""

    def __init__(
        self, message: str, *, file: str, line: int | None = None, rule: str | None = None
    ):
        self.file, self.line, self.rule, self.reason = file, line, rule, message
        where = file + (f":{line}" if line else "") + (f": rule {rule}" if rule else "")
        super().__init__(f"{where}: {message}")


class RulesSyntaxError(RulesError):
    """Not YAML, or YAML that uses what rules never need (tags, aliases)."""


class UnknownKeyError(RulesError):
    """A key the format does not have."""


class WrongTypeError(RulesError):
    """A value of the wrong type or out of range."""


class UnknownReferenceError(RulesError):
    """An offence, district, municipality, section or unit that does not exist."""


# --- YAML with line numbers -----------------------------------------------------------------


class Located(dict[str, Any]):
    """A YAML mapping that remembers the line of itself and of each key."""

    line: int = 0
    key_lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    """Safe YAML, mappings as `Located`; aliases, tags and deep nesting refused (no anchor
    bombs, no typed values, no recursion without bound in rule files)."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            self._refuse("aliases are not allowed in rule files", event.start_mark)
        if getattr(event, "tag", None) is not None:
            self._refuse(f"tags ({event.tag}) are not allowed in rule files", event.start_mark)
        if self.depth >= MAX_DEPTH:
            self._refuse(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError) as exc:  # a date like 2026-02-30, say
            self._refuse(f"cannot read this value: {exc}", node.start_mark)

    @staticmethod
    def _refuse(problem: str, mark: Any) -> Any:
        raise yaml.MarkedYAMLError(None, None, problem, mark)


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Located:
    loader.flatten_mapping(node)
    result = Located()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            loader._refuse("a key must be a plain text, not a list or mapping", key_node.start_mark)
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[str(key)] = key_node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_file(path: Path) -> str:
    """A rules or unit file's text, or `RulesSyntaxError`: too large, or not UTF-8."""
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        line = data.count(b"\n") + 1
        raise RulesSyntaxError(
            f"larger than {MAX_FILE_BYTES} bytes (the limit is passed on this line)",
            file=str(path),
            line=line,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RulesSyntaxError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x})", file=str(path), line=line
        ) from None


def parse_yaml(text: str, file: str) -> Any:
    """The YAML document, or `RulesSyntaxError` with its line."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise RulesSyntaxError(str(exc.problem or exc), file=file, line=line) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, such as NUL
        line = text.count("\n", 0, exc.position) + 1
        raise RulesSyntaxError(
            f"{exc.reason}: U+{exc.character:04X}", file=file, line=line
        ) from None
    except yaml.YAMLError as exc:
        raise RulesSyntaxError(str(exc), file=file) from None


class Reader:
    """Typed access to a `Located` mapping, raising errors with file, line and rule."""

    def __init__(self, file: str, rule: str | None = None) -> None:
        self.file, self.rule = file, rule

    def mapping(self, value: Any, line: int, what: str, allowed: set[str] | None = None) -> Located:
        if not isinstance(value, Located):
            raise WrongTypeError(
                f"{what} must be a mapping", file=self.file, line=line, rule=self.rule
            )
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise UnknownKeyError(
                        f"unknown key {key!r} in {what} (allowed: {', '.join(sorted(allowed))})",
                        file=self.file,
                        line=value.key_lines.get(str(key), value.line),
                        rule=self.rule,
                    )
        return value

    def strings(self, value: Any, line: int, what: str) -> list[str]:
        items = value if isinstance(value, list) else [value]
        if not items or not all(
            isinstance(i, str | int) and not isinstance(i, bool) for i in items
        ):
            raise WrongTypeError(
                f"{what} must be a text or a list of texts",
                file=self.file,
                line=line,
                rule=self.rule,
            )
        return [str(i) for i in items]

    def fail(self, kind: type[RulesError], message: str, line: int) -> RulesError:
        return kind(message, file=self.file, line=line, rule=self.rule)


def duration(read: Reader, spec: Located) -> dt.timedelta:
    amounts = {k: spec[k] for k in DURATION_KEYS if k in spec}
    if len(amounts) != 1 or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in amounts.values()
    ):
        raise read.fail(
            WrongTypeError,
            "a duration is one of weeks, days, hours, minutes: a whole number",
            spec.line,
        )
    return dt.timedelta(**amounts)
