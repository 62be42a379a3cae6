"""The alerts against promtool, and their test series against what the exporters really do.

A counter series that first appears at 1 reads as no increase to `increase()` and `rate()`,
so an alert on it misses the first event after a start. The exporters therefore export every
label value known before the first event at 0 from the start, and the promtool tests must
start each counter series the way its exporter does: at 0 where the values are known (also
after a restart), with its first count where they cannot be (an HTTP status of a route).
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import REGISTRY

from services.intake import metrics as intake_metrics
from services.routing import deliveries, handler, person_cases
from services.routing import metrics as routing_metrics
from tests.support.promtool import expand, promtool
from tests.unit.deploy.test_monitoring import CONTRACT, MONITORING, _family

ALERTS_TEST = MONITORING / "alerts.test.yml"
# The clients file names the sources whose outcomes are counted (services/intake/access.py).
REPORT_SOURCES = "fsi_intake_reports_total"
# The unit catalogue names the units whose returned cases are counted (the router's start).
UNROUTABLE_UNITS = "fsi_routing_unroutable_total"


def known_at_start(name: str) -> bool:
    """Whether the exporter has every series of a counter (or histogram) family before its
    first event: each label's values are known in code (enumerated in the contract), or,
    for report outcomes, come from the clients file, or, for returned cases, from the unit
    catalogue."""
    metric = CONTRACT[name]
    if metric.kind not in {"counter", "histogram"}:
        return False
    return name in {REPORT_SOURCES, UNROUTABLE_UNITS} or all(
        values is not None for values in metric.labels.values()
    )


def _input_series() -> list[tuple[str, str, dict[str, str], str]]:
    """(test group, family, labels, values) of every input series of alerts.test.yml."""
    tests = yaml.safe_load(ALERTS_TEST.read_text(encoding="utf-8"))
    found = []
    for test in tests["tests"]:
        for entry in test.get("input_series", []):
            selector: Any = promql_parser.parse(entry["series"])
            labels = {m.name: m.value for m in selector.matchers.matchers}
            name = str(selector.name)
            found.append((test["name"], name, labels, str(entry["values"])))
    return found


def start_problems(name: str, labels: dict[str, str], values: str) -> list[str]:
    """How a test series starts unlike its exporter: a counter known at start appears at 0
    (after a gap too: a restarted process), one that is not appears with its first count."""
    family = _family(name, CONTRACT)
    metric = CONTRACT.get(family)
    if metric is None or metric.kind not in {"counter", "histogram"}:
        return []
    if metric.kind == "histogram" and name.endswith("_bucket") and labels.get("le") != "+Inf":
        return []  # a bucket of an observed child may stay at 0; its +Inf bucket may not
    samples = expand(values)
    known = known_at_start(family)
    problems = []
    for step, (before, sample) in enumerate(itertools.pairwise([None, *samples])):
        if sample is None:
            continue
        appears = before is None and step > 0  # a process running before step 0 may hold any
        if known and appears and sample != 0:
            problems.append(f"appears at step {step} with {sample:g}, not at 0 as exported")
        if not known and sample == 0:
            problems.append(f"is 0 at step {step}: this series exists only once counted")
    return problems


# --- the checks can fail ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "labels", "values", "problem"),
    [
        ("fsi_routing_dead_letters_total", {"reason": "contract"}, "_ _ 1x5", "step 2 with 1"),
        ("fsi_routing_dead_letters_total", {"reason": "contract"}, "0 2 _ 2x3", "step 3 with 2"),
        ("fsi_outbox_publishes_total", {"result": "failed"}, "_ 3+1x4", "step 1 with 3"),
        ("fsi_intake_reports_total", {"source": "x", "result": "invalid"}, "_ 1", "step 1"),
        ("fsi_intake_requests_total", {"status_code": "500"}, "0+30x5", "is 0 at step 0"),
        (
            "fsi_intake_request_duration_seconds_bucket",
            {"le": "+Inf", "status_code": "202"},
            "_ 0 5",
            "is 0 at step 1",
        ),
    ],
)
def test_start_check_rejects_a_series_its_exporter_never_shows(
    name: str, labels: dict[str, str], values: str, problem: str
) -> None:
    assert any(problem in p for p in start_problems(name, labels, values))


@pytest.mark.parametrize(
    ("name", "labels", "values"),
    [
        ("fsi_routing_dead_letters_total", {"reason": "contract"}, "_ _ 0 1x5"),
        ("fsi_routing_dead_letters_total", {"reason": "contract"}, "3x4 _ 0 1"),
        ("fsi_intake_requests_total", {"status_code": "500"}, "_x3 30+30x5"),
        ("fsi_intake_request_duration_seconds_bucket", {"le": "0.5"}, "_ 0x5"),
        ("fsi_queue_messages_ready", {"kind": "unit"}, "_ 3 0"),
    ],
)
def test_start_check_accepts_what_the_exporters_show(
    name: str, labels: dict[str, str], values: str
) -> None:
    assert start_problems(name, labels, values) == []


# --- the files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "name", "labels", "values"),
    [pytest.param(*entry, id=f"{index}-{entry[1]}") for index, entry in enumerate(_input_series())],
)
def test_alert_test_series_start_as_the_exporters_do(
    group: str, name: str, labels: dict[str, str], values: str
) -> None:
    assert start_problems(name, labels, values) == [], (group, name, labels)


def test_promtool_accepts_the_config_and_rules_and_every_alert_test_passes() -> None:
    checked = promtool("check", "config", "prometheus.yml", cwd=MONITORING)  # and its rules
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", ALERTS_TEST.name, cwd=MONITORING)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def _exported() -> set[tuple[str, frozenset[tuple[str, str]]]]:
    return {
        (sample.name, frozenset(sample.labels.items()))
        for family in REGISTRY.collect()
        for sample in family.samples
    }


def test_counters_with_known_label_values_are_exported_at_zero_from_the_start() -> None:
    sources = frozenset({"nettanmeldelse", "patrulje"})
    intake_metrics.known_sources(sources)
    units = ("oslo.vold", "agder.okonomi")
    routing_metrics.known_units(units)
    exported = _exported()
    for name, metric in CONTRACT.items():
        if metric.kind != "counter" or not metric.labels or not known_at_start(name):
            continue
        choices: dict[str, Any] = dict(metric.labels)
        if name == REPORT_SOURCES:
            choices["source"] = {*sources, intake_metrics.UNKNOWN_SOURCE, "other"}
        if name == UNROUTABLE_UNITS:
            choices["unit"] = {*units, "triage"}
        for combination in itertools.product(*choices.values()):
            labels = frozenset(zip(choices, combination, strict=True))
            assert (name, labels) in exported, (name, dict(labels))


def _codes(tree: ast.AST, function: str) -> set[str]:
    """The string constants a function of handler.py returns (alone or first of a tuple),
    also through a local name assigned before the return."""
    body = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name == function
    )
    assigned = {
        target.id: node.value
        for node in ast.walk(body)
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    codes: set[str] = set()
    for node in ast.walk(body):
        if not isinstance(node, ast.Return) or node.value is None:
            continue
        value = node.value.elts[0] if isinstance(node.value, ast.Tuple) else node.value
        if isinstance(value, ast.Name):
            value = assigned.get(value.id, value)
        codes |= {
            c.value
            for c in ast.walk(value)
            if isinstance(c, ast.Constant) and isinstance(c.value, str)
        }
    return codes


def _refused_codes(tree: ast.AST) -> set[str]:
    """The codes a module gives `Refused(code, ...)`: a constant, or the constants of what
    is assigned to the name passed (`code = "a" if ... else "b"`)."""
    assigned: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, set()).update(
                        c.value
                        for c in ast.walk(node.value)
                        if isinstance(c, ast.Constant) and isinstance(c.value, str)
                    )
    codes: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "Refused"
            and node.args
        ):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes.add(first.value)
            elif isinstance(first, ast.Name):
                codes |= assigned.get(first.id, set())
    return codes


def test_the_router_counts_only_the_reasons_it_exports_at_zero() -> None:
    # Every dead letter goes out as a `Refused` made in these modules.
    trees = []
    for module in (handler, deliveries, person_cases):
        assert module.__file__ is not None
        trees.append(ast.parse(Path(module.__file__).read_text(encoding="utf-8")))
    dead_lettered = set().union(*(_refused_codes(t) for t in trees))
    tree = trees[0]
    assert dead_lettered == set(routing_metrics.DEAD_LETTER_REASONS)
    assert _codes(tree, "triage_reason") == set(routing_metrics.TRIAGE_REASONS)
    contract = CONTRACT["fsi_routing_dead_letters_total"].labels["reason"]
    assert frozenset(routing_metrics.DEAD_LETTER_REASONS) == contract
    contract = CONTRACT["fsi_routing_triage_total"].labels["reason"]
    assert frozenset(routing_metrics.TRIAGE_REASONS) == contract
