"""Loading and checking rules: every error names the file, the line and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import reference
from services.common.rules.reading import (
    RulesError,
    RulesSyntaxError,
    UnknownKeyError,
    UnknownReferenceError,
    WrongTypeError,
)
from services.common.rules.ruleset import load_ruleset

ROOT = Path(__file__).parents[3]
UNITS = ROOT / "deploy" / "routing" / "units.yaml"
HEAD = "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"


def load(tmp_path: Path, rules: str) -> object:
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + rules, "utf-8")
    return load_ruleset(path, UNITS, reference.load())


def test_default_rules_load_and_cover_every_district() -> None:
    ruleset = load_ruleset(ROOT / "deploy/routing/rules.yaml", UNITS, reference.load())
    assert set(ruleset.catalogue.districts) == set(reference.POLICE_DISTRICTS)
    assert ruleset.version.startswith("sha256:")
    assert len({r.id for r in ruleset.rules}) == len(ruleset.rules)


@pytest.mark.parametrize(
    ("rules", "error", "line", "rule", "words"),
    [
        (
            "  - id: a\n    when: {flag: weapon}\n    then: {priority: high, colour: red}\n",
            UnknownKeyError,
            6,
            "a",
            "colour",
        ),
        (
            "  - id: b\n    when: {offence: {code: strl-9999}}\n    then: {priority: high}\n",
            UnknownReferenceError,
            5,
            "b",
            "strl-9999",
        ),
        (
            "  - id: c\n    when: {flag: weapon}\n    then: {section: no-such-section}\n",
            UnknownReferenceError,
            6,
            "c",
            "no-such-section",
        ),
        (
            "  - id: d\n    when: {flag: weapon}\n    then: {unit: oslo.nowhere}\n",
            UnknownReferenceError,
            6,
            "d",
            "oslo.nowhere",
        ),
        (
            "  - id: e\n    when: {district: Atlantis}\n    then: {priority: high}\n",
            UnknownReferenceError,
            5,
            "e",
            "Atlantis",
        ),
        (
            "  - id: f\n    when: {person: {role: victim, age_under: young}}\n"
            "    then: {priority: high}\n",
            WrongTypeError,
            5,
            "f",
            "age_under",
        ),
        (
            "  - id: g\n    when: {flag: weapon}\n    then: {priority: urgent}\n",
            WrongTypeError,
            6,
            "g",
            "urgent",
        ),
        (
            "  - id: h\n    when: {flag: weapon}\n    then:\n"
            "      deadline: {days: 3, from: lunch, basis: x}\n",
            WrongTypeError,
            7,
            "h",
            "from",
        ),
        (
            "  - id: i\n    when: {flag: weapon}\n    then:\n      deadline: {days: 3}\n",
            WrongTypeError,
            7,
            "i",
            "basis",
        ),
        (
            "  - id: j\n    when: {all: [{flag: weapon}, {municipality: '9999'}]}\n"
            "    then: {priority: low}\n",
            UnknownReferenceError,
            5,
            "j",
            "9999",
        ),
        (
            "  - id: k\n    when: {flag: weapon}\n    then: {priority: high}\n"
            "  - id: k\n    when: {flag: weapon}\n    then: {priority: low}\n",
            WrongTypeError,
            7,
            "k",
            "twice",
        ),
        ("  - id: l\n    when: {}\n    then: {priority: high}\n", WrongTypeError, 5, "l", "empty"),
    ],
)
def test_errors_say_where(
    tmp_path: Path, rules: str, error: type[RulesError], line: int, rule: str, words: str
) -> None:
    with pytest.raises(error) as caught:
        load(tmp_path, rules)
    assert (caught.value.line, caught.value.rule) == (line, rule)
    assert words in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "rules.yaml"))


def test_not_yaml_and_aliases_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RulesSyntaxError) as caught:
        load(tmp_path, "  - id: a\n    when: {flag: [weapon\n")
    assert caught.value.line is not None
    bomb = (
        "  - id: a\n    when: &w {flag: weapon}\n    then: {priority: high}\n"
        "  - id: b\n    when: *w\n    then: {priority: low}\n"
    )
    with pytest.raises(RulesSyntaxError, match="aliases"):
        load(tmp_path, bomb)


def test_version_changes_with_content(tmp_path: Path) -> None:
    one = load(tmp_path, "  - id: a\n    when: {flag: weapon}\n    then: {priority: high}\n")
    two = load(tmp_path, "  - id: a\n    when: {flag: weapon}\n    then: {priority: low}\n")
    assert one.version != two.version  # type: ignore[attr-defined]
