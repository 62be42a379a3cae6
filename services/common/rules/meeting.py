"""A deadline's `met_by`: the case events that meet it, read and checked against the vocabulary.

A deadline nobody can meet can never be known met or missed, so every deadline names its
events: a non-empty list of `schemas.caseevents.MEETING_KINDS`, each once. `returned` and
`received` are refused with the reason (they end or begin the unit's part, they meet no
deadline); any other unknown name is refused with the nearest allowed one, if one is close.
"""

from __future__ import annotations

import difflib
from typing import Any

from schemas.caseevents import MEETING_KINDS, CaseEventKind
from services.common.rules.reading import (
    Located,
    Reader,
    UnknownReferenceError,
    WrongTypeError,
    written,
    written_in,
)

# Sorted, so every message lists them in the same order.
ALLOWED: tuple[str, ...] = tuple(sorted(k.value for k in MEETING_KINDS))

# Why the kinds that are events but not meeting ones may not be named (schemas.caseevents).
_NEVER_MEETS = {
    CaseEventKind.RETURNED.value: (
        "a return ends the unit's part in the case (it goes back to the intake), so it meets "
        "no deadline"
    ),
    CaseEventKind.RECEIVED.value: (
        "the unit taking the case in meets no legal deadline (what the law asks for is a "
        "court hearing, an interview or a decision)"
    ),
}


def allowed_kinds() -> str:
    """The kinds a deadline may be met by, as a message lists them."""
    return "allowed: " + ", ".join(ALLOWED)


def met_by(read: Reader, spec: Located, line: int) -> tuple[CaseEventKind, ...]:
    """The deadline mapping's (`spec`, written at `line`) `met_by`, in the order written;
    `WrongTypeError` for a missing, empty or repeating list or an item that is not a name,
    `UnknownReferenceError` for a name that is not a meeting kind. Every error names the
    line (of the item, of `met_by`, or of the deadline without one) and the allowed kinds."""
    if "met_by" not in spec:
        raise read.fail(
            WrongTypeError,
            "a deadline needs `met_by`: the case events that meet it, e.g. "
            f"`met_by: [{ALLOWED[0]}]` (a deadline nothing meets can never be known met or "
            f"missed); {allowed_kinds()}",
            line,
        )
    value: Any = spec["met_by"]
    line = spec.key_lines.get("met_by", line)
    if not isinstance(value, list) or not value:
        # One name alone is the likeliest slip; the list keeps every rule's form the same.
        fix = f" (write `met_by: [{value}]`)" if isinstance(value, str) and value else ""
        raise read.fail(
            WrongTypeError,
            f"`met_by` must be a non-empty list of case events, not "
            f"`{written_in(spec, 'met_by')}`{fix}; {allowed_kinds()}",
            line,
        )
    lines = getattr(value, "item_lines", None) or [line] * len(value)
    kinds: list[CaseEventKind] = []
    for item, at in zip(value, lines, strict=True):
        kind = _kind(read, item, at)
        if kind in kinds:
            raise read.fail(WrongTypeError, f"`{kind}` is named twice in `met_by`", at)
        kinds.append(kind)
    return tuple(kinds)


def _kind(read: Reader, item: Any, line: int) -> CaseEventKind:
    if not isinstance(item, str):
        raise read.fail(
            WrongTypeError,
            f"`met_by` lists case events by name, not `{written(item)}`; {allowed_kinds()}",
            line,
        )
    if item in ALLOWED:
        return CaseEventKind(item)
    if item in _NEVER_MEETS:
        raise read.fail(
            UnknownReferenceError,
            f"`{item}` cannot meet a deadline: {_NEVER_MEETS[item]}; {allowed_kinds()}",
            line,
        )
    close = difflib.get_close_matches(item.lower().replace("-", "_"), ALLOWED, n=1, cutoff=0.6)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    raise read.fail(
        UnknownReferenceError,
        f"unknown case event `{item}` in `met_by`{hint}; {allowed_kinds()}",
        line,
    )
