"""promtool (Debian's `prometheus` package; `make promtool` installs it) for the alert tests,
and promtool's series notation: read (expanded) and written (from real scrapes)."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

Sample = float | None  # None: no sample at that step (promtool's `_`)

_TERM = re.compile(
    r"(?P<missing>_)(?:x(?P<gap>\d+))?"
    r"|(?P<stale>stale)"
    r"|(?P<start>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?|[-+]?Inf|NaN)"
    r"(?:(?P<sign>[-+])(?P<step>\d+(?:\.\d*)?(?:e[-+]?\d+)?))?(?:x(?P<times>\d+))?$"
)


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run promtool; a missing promtool fails the test with the command that installs it."""
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found: `make promtool` installs it (Debian's prometheus)")
    return subprocess.run(  # noqa: S603 - promtool on files of this repository or the test
        [found, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def expand(values: str) -> list[Sample]:
    """promtool's expanding notation as one sample per step: `a+bxn` is n+1 values, `axn`
    is a n+1 times, `_xn` is n missing samples, `_` one; `stale` ends a series (None here)."""
    samples: list[Sample] = []
    for term in values.split():
        match = _TERM.fullmatch(term)
        if match is None:
            raise ValueError(f"not promtool's series notation: {term!r}")
        if match["missing"]:
            samples += [None] * (int(match["gap"]) if match["gap"] else 1)
        elif match["stale"]:
            samples.append(None)
        else:
            start = float(match["start"])
            step = float(match["step"] or 0) * (-1 if match["sign"] == "-" else 1)
            times = int(match["times"]) if match["times"] is not None else None
            count = 1 if times is None else times + 1
            samples += [start + i * step for i in range(count)]
    return samples


def series(name: str, labels: Mapping[str, str]) -> str:
    """A series in promtool's notation: `name{a="x",b="y"}`."""
    body = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(labels.items()))
    return f"{name}{{{body}}}"


def values(samples: Sequence[Sample]) -> str:
    """Samples as promtool's values string (`_` for a step without a sample)."""
    return " ".join(_number(s) for s in samples)


def _number(sample: Sample) -> str:
    if sample is None:
        return "_"
    if math.isnan(sample):
        return "NaN"
    if math.isinf(sample):
        return "Inf" if sample > 0 else "-Inf"
    return str(int(sample)) if sample.is_integer() else repr(sample)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


Scrape = Mapping[tuple[str, frozenset[tuple[str, str]]], float]  # (name, labels) -> value


def parse_scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A /metrics answer as (sample name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def series_from_scrapes(
    phases: Sequence[tuple[int, Scrape]], target: Mapping[str, str], before: int = 0
) -> list[dict[str, str]]:
    """promtool input series as Prometheus would have stored a target's scrapes: nothing for
    `before` steps (the process not yet running), then each scrape repeated for its number of
    steps; a series missing from a scrape has no sample there, as in Prometheus. The target
    labels (job, instance) are added to every series, and `up` is 1 while it is scraped."""
    names = sorted({key for _, scrape in phases for key in scrape}, key=repr)
    found = []
    for name, labels in names:
        samples: list[Sample] = [None] * before
        for steps, scrape in phases:
            samples += [scrape.get((name, labels))] * steps
        found.append(
            {"series": series(name, {**dict(labels), **target}), "values": values(samples)}
        )
    up = [None] * before + [1.0] * sum(steps for steps, _ in phases)
    found.append({"series": series("up", target), "values": values(up)})
    return found
