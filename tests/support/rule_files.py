"""Rule files a test writes: the head they start with, read against the unit catalogue of
deploy/routing, or the error that refuses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import reference
from services.common.rules.reading import RulesError
from services.common.rules.ruleset import RuleSet, load_ruleset

UNITS = Path(__file__).parents[2] / "deploy" / "routing" / "units.yaml"
HEAD = "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"
REF = reference.load()


def load(tmp_path: Path, rules: str, units: Path = UNITS) -> RuleSet:
    """`rules` (the rule list's lines) after `HEAD`, written to `tmp_path` and read."""
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + rules, "utf-8")
    return load_ruleset(path, units, REF)


def refused(tmp_path: Path, rules: str, units: Path = UNITS) -> RulesError:
    """The error that refuses `rules` as `load` writes them (the test fails if none does)."""
    with pytest.raises(RulesError) as caught:
        load(tmp_path, rules, units)
    return caught.value
