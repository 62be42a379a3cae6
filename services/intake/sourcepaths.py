"""Where each field of a canonical report came from in its source format (pure)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from schemas.report import Report
from services.intake.validation import Problem, ReportProblems, walk


class Trace:
    """Where each field of the canonical report came from in the source format, so that a
    problem of the contract is named where the sender can fix it."""

    def __init__(self) -> None:
        self.paths: dict[str, str] = {"$": "$"}
        self.notes: dict[str, str] = {}

    def at(self, canonical: str, source: str, /, **fields: str) -> None:
        """`canonical` came from `source`; `fields`: its fields from fields of `source`."""
        self.paths[canonical] = source
        for name, field in fields.items():
            self.paths[f"{canonical}.{name}"] = f"{source}.{field}"

    def locate(self, problem: Problem) -> Problem:
        """The problem at its source path, its message naming the source's fields."""
        path, message = problem.path, problem.message
        # A struct's own rule names its fields: '`occurred_to` is before `occurred_from`'.
        named = _NAMED.findall(message)
        if named and f"{path}.{named[0]}" in self.paths:
            path, parent = f"{path}.{named[0]}", path
            for name in named:
                source = self.paths.get(f"{parent}.{name}", name)
                message = message.replace(f"`{name}`", f"`{_leaf(source)}`")
        if message == _EMPTY:  # the source field was left empty (or what became it)
            message = "Expected a text with a visible character"
        note = self.notes.get(path)
        while path not in self.paths:
            path = _parent(path)
        return Problem(self.paths[path], f"{message} ({note})" if note else message)


def checked(built: dict[str, Any], where: Callable[[Trace], None]) -> Report:
    """The canonical report an adapter built (as builtins), or `ReportProblems` with every
    problem at its source path; `where` records the paths, only when there is a problem."""
    try:
        return msgspec.convert(built, Report)
    except msgspec.ValidationError:
        trace = Trace()
        where(trace)
        raise ReportProblems([trace.locate(p) for p in walk(built, Report)]) from None


_NAMED = re.compile(r"`(\w+)`")
_EMPTY = "Expected `str` of length >= 1"


def _parent(path: str) -> str:
    """'$.persons[1].name' → '$.persons[1]' → '$.persons' → '$'."""
    cut = path.rfind("[") if path.endswith("]") else path.rfind(".")
    return path[:cut] if cut > 0 else "$"


def _leaf(path: str) -> str:
    return path.rsplit(".", 1)[-1]
