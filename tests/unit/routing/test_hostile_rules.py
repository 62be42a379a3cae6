"""Hostile rule files: refused quickly, in bounded memory, with the file and the line."""

from __future__ import annotations

import io
import time
import tracemalloc
from pathlib import Path

import pytest

from schemas import reference
from services.common.rules.reading import MAX_DEPTH, MAX_FILE_BYTES, RulesError, RulesSyntaxError
from services.common.rules.ruleset import load_ruleset
from services.routing.cli import main

ROOT = Path(__file__).parents[3]
UNITS = ROOT / "deploy" / "routing" / "units.yaml"
REF = reference.load()
HEAD = "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"
SECONDS = 2.0
PEAK_BYTES = 16 * 1_048_576


def rule(when: str) -> str:
    return f"  - id: a\n    when: {when}\n    then: {{priority: high}}\n"


LAUGHS = (
    "  - id: a\n    description: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    + "".join(f"    x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10))
    + "    when: {flag: weapon}\n    then: {priority: high}\n"
)
# name: (file content, line named, words in the message)
HOSTILE: dict[str, tuple[bytes, int, str]] = {
    "billion laughs": ((HEAD + LAUGHS).encode(), 6, "aliases are not allowed"),
    "python object": (
        (HEAD + rule("!!python/object/apply:os.system ['touch /tmp/owned']")).encode(),
        5,
        "tags (tag:yaml.org,2002:python/object/apply:os.system)",
    ),
    "python name": ((HEAD + rule("!!python/name:os.system")).encode(), 5, "tags"),
    "local tag": ((HEAD + rule("!flag weapon")).encode(), 5, "tags (!flag)"),
    "standard tag with a bad value": ((HEAD + rule("{flag: !!int 'x'}")).encode(), 5, "tags"),
    "a number too long to read": (
        (HEAD + "  - id: " + "9" * 5000 + "\n").encode(),
        4,
        "a whole number of 5000 digits is too long",
    ),
    "a key given twice": (
        (HEAD + "  - id: a\n    when: {flag: weapon}\n    when: {flag: hate_motive}\n").encode(),
        6,
        "key `when` is given twice (lines 5 and 6)",
    ),
    "list as a key": ((HEAD + rule("{[flag]: weapon}")).encode(), 5, "a key must be"),
    "deep flow nesting": (
        (HEAD + rule("{all: [" * 10_000 + "{flag: weapon}" + "]}" * 10_000)).encode(),
        5,
        f"nested more than {MAX_DEPTH} levels",
    ),
    "deep block nesting": (
        (
            HEAD
            + "  - id: a\n    when:\n"
            + "".join("  " * (i + 3) + "not:\n" for i in range(100))
            + "  " * 103
            + "flag: weapon\n"
            + "    then: {priority: high}\n"
        ).encode(),
        66,
        f"nested more than {MAX_DEPTH} levels",
    ),
    "100,000 open brackets": (
        (HEAD + rule("[" * 100_000)).encode(),
        5,
        f"nested more than {MAX_DEPTH} levels",
    ),
    "latin-1 bytes": (
        (HEAD + "  - id: kjøring\n").encode("latin-1"),
        4,
        "not UTF-8 text (byte 0xf8)",
    ),
    "UTF-16": ((HEAD + rule("{flag: weapon}")).encode("utf-16"), 1, "not UTF-8 text (byte 0xff)"),
    "NUL character": ((HEAD + "  - id: a\x00b\n").encode(), 4, "U+0000"),
}


def refused(path: Path, units: Path = UNITS) -> RulesError:
    """The error loading `path` raises, after checking it comes quickly (timed alone) and in
    little memory (traced, which is slower)."""
    started = time.monotonic()
    with pytest.raises(RulesError) as caught:
        load_ruleset(path, units, REF)
    elapsed = time.monotonic() - started
    assert elapsed < SECONDS, f"took {elapsed:.1f} s"
    tracemalloc.start()
    try:
        with pytest.raises(RulesError):
            load_ruleset(path, units, REF)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_BYTES, f"peaked at {peak / 1_048_576:.0f} MiB"
    return caught.value


@pytest.mark.parametrize(("content", "line", "words"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_rules_file_is_refused_naming_file_and_line(
    tmp_path: Path, content: bytes, line: int, words: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(content)
    error = refused(path)
    assert isinstance(error, RulesSyntaxError)
    assert (error.file, error.line) == (str(path), line)
    assert str(error).startswith(f"{path}:{line}: ")
    assert words in str(error)


def test_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    filler = "    # " + "x" * 94 + "\n"
    path.write_text(HEAD + rule("{flag: weapon}") + filler * 500_000, "utf-8")  # 50 MB
    error = refused(path)
    assert isinstance(error, RulesSyntaxError)
    assert f"larger than {MAX_FILE_BYTES} bytes" in str(error)
    assert error.line == 6 + MAX_FILE_BYTES // len(filler)


def test_just_inside_the_nesting_limit_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    levels = (MAX_DEPTH - 5) // 2  # the document, `rules`, the rule and `when` come first
    path.write_text(HEAD + rule("{all: [" * levels + "{flag: weapon}" + "]}" * levels), "utf-8")
    ruleset = load_ruleset(path, UNITS, REF)
    assert [r.id for r in ruleset.rules] == ["a"]


def test_hostile_unit_catalogue_is_refused_naming_it(tmp_path: Path) -> None:
    units = tmp_path / "units.yaml"
    units.write_bytes(UNITS.read_bytes() + b"# \xff\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(HEAD + rule("{flag: weapon}"), "utf-8")
    error = refused(rules, units)
    last = UNITS.read_bytes().count(b"\n") + 1
    assert str(error).startswith(f"{units}:{last}: not UTF-8")


@pytest.mark.parametrize(("content", "line", "words"), HOSTILE.values(), ids=HOSTILE.keys())
def test_fsi_rules_check_refuses_hostile_file_readably(
    tmp_path: Path, content: bytes, line: int, words: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", str(path)], out=out, err=err)
    assert code == 2  # unusable input, not a failed check
    assert out.getvalue() == ""
    assert err.getvalue().startswith(f"error: {path}:{line}: ")
    assert words in err.getvalue()
    assert len(err.getvalue().splitlines()) == 1
    assert len(err.getvalue()) < 500
