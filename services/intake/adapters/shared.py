"""What every source adapter reads with: its YAML mapping, local dates and times, texts given."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

from schemas.reference import visible_text
from services.common import yamltext
from services.intake.validation import Problem

# The intake's mappings/ directory: role codes, markers and law references as data.
MAPPINGS = Path(__file__).parents[1] / "mappings"


@functools.cache
def load_mapping(name: str, cls: type[Any]) -> Any:
    """The mapping `name` (mappings/<name>.yaml) as `cls`, read once; a `yamltext` error
    naming the file when it does not fit."""
    # Strict YAML (services.common.yamltext): a code such as `NO` or `0301` stays text.
    return yamltext.convert(yamltext.load_file(MAPPINGS / f"{name}.yaml"), cls, f"{name}.yaml")


def local(value: str, fmt: str, path: str, problems: list[Problem]) -> Any:
    """A naive local date and time read by `fmt` (strptime), or None with a problem at
    `path` added to `problems`."""
    try:
        return dt.datetime.strptime(value, fmt)
    except ValueError:
        problems.append(Problem(path, "not a valid date or time"))
        return None


def given(value: str | None) -> str | None:
    """An optional text as the sender meant it: '' or nothing visible (spaces, invisible
    characters) is not given, as if the field were left out."""
    return value if value is not None and visible_text(value) else None
