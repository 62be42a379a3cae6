"""Every pattern applied to what a client sends costs time in proportion to the text's length:
adversarial texts of the longest length allowed and of an eighth of it, compared (a pattern
that backtracks costs the square: 64 times as much for 8 times the text)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import msgspec
import pytest
from msgspec import inspect

from schemas import reference, report, sources
from services.common import lawrefs
from services.common import logging as fsi_logging
from services.intake import validation

REF = reference.load()
# Where a text has no length limit of its own, the body's limit bounds it; far past what
# any pattern needs to show its cost.
UNBOUNDED = 50_000
# Generous: linear time is 8 times as much for 8 times the text (up to 4 times that when the
# longer text leaves the processor's cache), quadratic 64 times; the constant absorbs a busy
# machine's noise on texts that cost microseconds either way.
FACTOR, SLACK = 32, 0.004
# Pieces repeated to the length: white space, letters, digits, and what the contract's own
# patterns and the law-reference reader look for; each text ends in something the pattern
# may refuse, so a backtracking pattern tries every way before it gives up.
PIECES = [
    "a",
    " ",
    "\t",
    "a ",
    "1",
    "1,",
    "1 ",
    "1.",
    "12.12.2024 ",
    "§ ",
    "og ",
    "første, ",
    "strl ",
    "1902 ",
    "1-",
    "\u00a0",
    "-",
    "(",
]
ENDINGS = ["", "\x00", "\x1b", "\n", "!", "x", " ", "]"]


def _struct_patterns() -> Iterator[tuple[str, str, int]]:
    """(where, pattern, longest text) of every text field of the contracts a client sends,
    once for each pattern and length."""
    todo: list[tuple[str, inspect.Type]] = [
        (t.__name__, inspect.type_info(t))
        for t in (report.Report, sources.CitizenReport, sources.PatrolReport, sources.AgencyReport)
    ]
    seen: set[object] = set()
    while todo:
        where, info = todo.pop()
        if isinstance(info, inspect.Metadata):
            todo.append((where, info.type))
        elif isinstance(info, inspect.StructType):
            if info.cls in seen:
                continue
            seen.add(info.cls)
            todo += [(f"{info.cls.__name__}.{f.encode_name}", f.type) for f in info.fields]
        elif isinstance(info, inspect.UnionType):
            todo += [(where, t) for t in info.types]
        elif isinstance(info, inspect.ListType):
            todo.append((f"{where}[]", info.item_type))
        elif isinstance(info, inspect.StrType) and info.pattern is not None:
            found = (info.pattern, info.max_length or UNBOUNDED)
            if found not in seen:
                seen.add(found)
                yield (where, *found)


def _module_patterns() -> Iterator[tuple[str, re.Pattern[str], int]]:
    """Compiled patterns of the modules that read what clients send: the law-reference
    reader (offence codes, 64 characters, and agency references, 120, read whole), and the
    log redaction, which reads every string logged."""
    after = {f"lawrefs._AFTER[{kind}]": p for kind, p in lawrefs._AFTER}
    named = {f"lawrefs.{n}": v for n, v in vars(lawrefs).items() if isinstance(v, re.Pattern)}
    for name, pattern in {**named, **after}.items():
        yield name, pattern, 120
    yield "logging._ID_LIKE", fsi_logging._ID_LIKE, UNBOUNDED


PATTERNS = sorted(
    [(w, re.compile(p), n) for w, p, n in _struct_patterns()]
    + [(w, p, n) for w, p, n in _module_patterns()],
    key=lambda found: found[0],
)


def _texts(length: int) -> Iterator[str]:
    for piece in PIECES:
        for ending in ENDINGS:
            body = (piece * (length // len(piece) + 1))[: length - len(ending)]
            yield body + ending


def _seconds(run: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _linear(run: Callable[[str], object], length: int) -> list[str]:
    """The adversarial texts on which `run` costs more than linear time, with the figures."""
    slow = []
    short = max(length // 8, 1)
    for small, large in zip(_texts(short), _texts(length), strict=True):
        little = _seconds(lambda text=small: run(text))  # type: ignore[misc]
        bound = FACTOR * little + SLACK
        # Measured again only when over the bound: a linear pattern passes on the first try.
        if _seconds(lambda text=large: run(text), 1) > bound:  # type: ignore[misc]
            much = _seconds(lambda text=large: run(text))  # type: ignore[misc]
            if much > bound:
                slow.append(f"{large[:12]!r}…{large[-2:]!r}: {little:.5f} s -> {much:.5f} s")
    return slow


def test_the_patterns_are_found() -> None:
    # The collection itself: the contract's text rules and the law-reference reader's.
    found = {w for w, _, _ in PATTERNS}
    assert any(p.pattern == report.TEXT for _, p, _ in PATTERNS)
    assert 20_000 in {n for _, _, n in PATTERNS}  # the description, the formats' accounts
    assert {"lawrefs._HEAD", "lawrefs._AFTER[harmless]"} <= found
    assert len(PATTERNS) > 15


@pytest.mark.parametrize(("where", "pattern", "length"), PATTERNS, ids=[p[0] for p in PATTERNS])
def test_every_input_pattern_costs_linear_time(
    where: str, pattern: re.Pattern[str], length: int
) -> None:
    # msgspec applies a field's pattern with `search`; the reader's are applied with `match`
    # at a place, and `search` is the worse of the two.
    assert _linear(pattern.search, length) == []


def test_reading_law_references_costs_linear_time() -> None:
    # The reader as a whole (its patterns one after another, from each place it reached),
    # on texts far longer than an agency's reference may be.
    assert _linear(lambda text: lawrefs.read(text, REF), 960) == []


@pytest.mark.parametrize("piece", ["a", " ", "\\\\", "\\u000a", "\\\\\\u0000", "é"])
def test_finding_u0000_in_a_body_costs_linear_time(piece: str) -> None:
    def scan(text: str) -> object:
        try:  # cut anywhere, an escape may be left open: then the body is no JSON, also fine
            return validation.decode(b'{"a": "' + text.encode() + b'"}', dict[str, int])
        except validation.NotJson:
            return None

    short, long = (piece * 4096)[:4096], (piece * 32768)[:32768]
    assert _seconds(lambda: scan(long)) < FACTOR * _seconds(lambda: scan(short)) + SLACK


def test_a_long_free_text_ending_in_a_refused_character_costs_little() -> None:
    # The case that held the event loop for seconds: the longest description, refused at
    # its last character, costs about what the same description accepted costs.
    good = {
        "source": "s",
        "external_id": "x",
        "reported_at": "2026-01-01T10:00:00Z",
        "offences": [{"code": "strl-321"}],
    }

    def decode(text: str) -> object:
        body = {**good, "incident": {"occurred_from": "2026-01-01T09:00:00Z", "description": text}}
        return validation.decode(msgspec.json.encode(body), report.Report)

    refused, accepted = "a" * 19_999 + "\x00", "a" * 20_000
    assert _seconds(lambda: decode(refused)) < 4 * _seconds(lambda: decode(accepted)) + 0.01
