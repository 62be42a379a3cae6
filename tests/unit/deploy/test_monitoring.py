"""The monitoring files in deploy/monitoring: Prometheus config, alert rules, Grafana dashboard.

Every PromQL expression (alert and dashboard) must parse, name only metrics of the services'
metric contract (`CONTRACT`), match and group only on labels those metrics have, and compare
enumerated labels only with values they can take. Alert annotations may show only operational
labels, and only labels the alert's result carries. The dashboard must satisfy the JSON Schema
below (the part of Grafana's model we rely on) and point at the provisioned datasource.

Pure and fast: no Prometheus or Grafana is started. With promtool at hand,
`promtool test rules deploy/monitoring/alerts.test.yml` checks when each alert fires.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import promql_parser
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
MONITORING = ROOT / "deploy" / "monitoring"
PROMETHEUS_YML = MONITORING / "prometheus.yml"
DASHBOARD_JSON = MONITORING / "grafana" / "dashboards" / "fsi-intake.json"
DATASOURCES_YAML = MONITORING / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"
DASHBOARD_PROVIDERS_YAML = MONITORING / "grafana" / "provisioning" / "dashboards" / "fsi.yaml"
OPERATIONS_MD = ROOT / "docs" / "operations.md"


# --- the metric contract ---------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One metric as exposed: its type and its labels, each with the values it may take
    (None: any value)."""

    kind: str  # counter, gauge, histogram, info
    labels: Mapping[str, frozenset[str] | None] = field(default_factory=dict)


def _values(*values: str) -> frozenset[str]:
    return frozenset(values)


_QUEUE = {
    "queue": None,
    "kind": _values("unit", "triage", "dead_letter", "routing"),
    "district": None,
    "unit": None,
}
_HTTP = {"app_name": _values("fsi-intake"), "method": None, "path": None, "status_code": None}

# The services' metrics, by the name Prometheus stores (counters with `_total`). To be replaced
# by reading the services' registries; keep the shape: name -> Metric.
CONTRACT: dict[str, Metric] = {
    # intake
    "fsi_intake_reports_total": Metric(
        "counter",
        {
            "source": None,
            "result": _values(
                "accepted", "soft_flagged", "duplicate", "conflict", "invalid", "refused"
            ),
        },
    ),
    # Litestar's PrometheusMiddleware gives all four of its metrics the same labels.
    "fsi_intake_requests_total": Metric("counter", _HTTP),
    "fsi_intake_request_duration_seconds": Metric("histogram", _HTTP),
    "fsi_intake_requests_in_progress": Metric("gauge", _HTTP),
    "fsi_intake_requests_error_total": Metric("counter", _HTTP),
    "fsi_outbox_pending_rows": Metric("gauge"),
    "fsi_outbox_oldest_pending_age_seconds": Metric("gauge"),
    "fsi_outbox_publishes_total": Metric("counter", {"result": _values("published", "failed")}),
    "fsi_outbox_payloads_purged_total": Metric("counter"),
    "fsi_outbox_unmarked_total": Metric("counter"),
    "fsi_outbox_set_aside_total": Metric("counter"),
    "fsi_outbox_set_aside_rows": Metric("gauge"),
    "fsi_queue_messages_ready": Metric("gauge", _QUEUE),
    "fsi_queue_messages_unacknowledged": Metric("gauge", _QUEUE),
    "fsi_queue_consumers": Metric("gauge", _QUEUE),
    # the units' deadlines, exact (moment: what the rule counted from, `none` for nothing)
    "fsi_case_deadlines_open": Metric("gauge", {"unit": None}),
    "fsi_case_deadlines_due_soon": Metric("gauge", {"unit": None}),
    "fsi_case_deadlines_missed": Metric("gauge", {"unit": None, "moment": None}),
    "fsi_case_deadlines_met_on_time_ratio": Metric("gauge", {"unit": None}),
    "fsi_cases_not_received": Metric("gauge", {"unit": None}),
    "fsi_cases_routed_last_hour": Metric("gauge", {"district": None, "unit": None}),
    "fsi_broker_up": Metric("gauge"),
    "fsi_database_up": Metric("gauge"),
    "fsi_ops_refreshed_timestamp_seconds": Metric("gauge"),
    # the people's work list (district: a slug, or none)
    "fsi_triage_waiting_reports": Metric(
        "gauge",
        {
            "district": None,
            "reason": _values(
                "rule",
                "quality_issues",
                "no_district",
                "returned",
                "transferred",
                "closure_rejected",
                "transfer_rejected",
            ),
        },
    ),
    "fsi_triage_oldest_waiting_age_seconds": Metric("gauge", {"district": None}),
    "fsi_triage_approvals_pending": Metric(
        "gauge", {"kind": _values("closure", "transfer", "downgrade")}
    ),
    "fsi_triage_time_to_first_action_seconds": Metric("histogram", {"district": None}),
    "fsi_triage_time_to_disposition_seconds": Metric("histogram", {"district": None}),
    "fsi_triage_dispositions_total": Metric(
        "counter",
        {
            "kind": _values(
                "correct", "route", "transfer", "link", "close", "approve", "reject", "reviewed"
            )
        },
    ),
    # both services: the intake counts via="http", the router via="amqp"
    "fsi_case_events_total": Metric(
        "counter",
        {
            "via": _values("http", "amqp"),
            "kind": _values(
                "received",
                "returned",
                "interview_held",
                "brought_before_court",
                "released",
                "prosecution_decision",
                "closed",
                "unknown",
            ),
            "verdict": _values(
                "applied",
                "repeat",
                "not_held",
                "conflict",
                "after_closure",
                "already_received",
                "before_routing",
                "before_moment",
                "in_future",
                "closed_before_events",
                "invalid",
                "unit_mismatch",
            ),
        },
    ),
    # router
    "fsi_routing_decisions_total": Metric(
        "counter",
        {
            "district": None,
            "unit": None,
            "priority": _values("critical", "high", "normal", "low"),
        },
    ),
    "fsi_routing_rule_matches_total": Metric("counter", {"rule": None}),
    "fsi_routing_triage_total": Metric(
        "counter", {"reason": _values("no_district", "quality_issues", "rule")}
    ),
    "fsi_routing_dead_letters_total": Metric(
        "counter",
        {
            "reason": _values(
                "undecodable",
                "contract",
                "message_id_mismatch",
                "unknown_report",
                "report_differs",
                "decision_failed",
                "unknown_decision",
            )
        },
    ),
    "fsi_routing_decision_duration_seconds": Metric("histogram"),
    "fsi_routing_handle_duration_seconds": Metric("histogram"),
    "fsi_routing_redeliveries_total": Metric("counter"),
    "fsi_routing_ruleset_info": Metric("info", {"version": None}),
    "fsi_routing_ruleset_loaded_timestamp_seconds": Metric("gauge"),
    "fsi_routing_rule_reloads_total": Metric("counter", {"result": _values("loaded", "refused")}),
    "fsi_routing_rules_refused": Metric("gauge"),
    # every unit of the catalogue (and triage), exported at 0 from the router's start
    "fsi_routing_unroutable_total": Metric("counter", {"unit": None}),
    # every unit of the catalogue and act, exported at 0 from the router's start
    "fsi_routing_person_cases_total": Metric(
        "counter",
        {"unit": None, "act": _values("routed", "transferred", "linked", "corrected")},
    ),
}


def _scrape_jobs() -> frozenset[str]:
    config = yaml.safe_load(PROMETHEUS_YML.read_text(encoding="utf-8"))
    return frozenset(job["job_name"] for job in config["scrape_configs"])


# Labels Prometheus adds to every scraped series, and the series it makes itself.
TARGET_LABELS: dict[str, frozenset[str] | None] = {"job": _scrape_jobs(), "instance": None}
PROMETHEUS_SERIES: dict[str, Metric] = {"up": Metric("gauge")}

# Labels an alert's annotations may show: operational names only, never report content
# (via: a door, http or amqp; verdict: a case event's outcome code).
ANNOTATION_LABELS = frozenset(
    {"district", "unit", "queue", "kind", "reason", "source", "via", "verdict", "job", "instance"}
)
SEVERITIES = frozenset({"critical", "warning", "info"})

# Grafana's own variables, and a stand-in for each when an expression is checked.
GRAFANA_BUILTINS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}


# --- the PromQL checker ----------------------------------------------------------------------


def _metric_name(selector: Any) -> str:
    if selector.name:
        return str(selector.name)
    for matcher in selector.matchers.matchers:
        if matcher.name == "__name__" and matcher.op == promql_parser.MatchOp.Equal:
            return str(matcher.value)
    return str(selector)  # a selector without one metric name never matches the contract


def _family(name: str, contract: Mapping[str, Metric]) -> str:
    """The contract name a stored series name belongs to: `x_bucket`, `x_count`, `x_sum` and
    `x_created` of a histogram `x`, `x_created` of a counter `x_total`."""
    if name in contract:
        return name
    for suffix in ("_bucket", "_count", "_sum", "_created"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if base in contract and contract[base].kind == "histogram":
                return base
            counter = f"{base}_total"
            if suffix == "_created" and contract.get(counter, Metric("")).kind == "counter":
                return counter
    return name


def _children(node: Any) -> list[Any]:
    if isinstance(node, promql_parser.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, promql_parser.AggregateExpr):
        return [node.expr] if node.param is None else [node.param, node.expr]
    if isinstance(node, promql_parser.Call):
        return list(node.args)
    if isinstance(node, promql_parser.MatrixSelector):
        return [node.vector_selector]
    if isinstance(
        node, promql_parser.ParenExpr | promql_parser.SubqueryExpr | promql_parser.UnaryExpr
    ):
        return [node.expr]
    return []


def _selectors(node: Any) -> Iterator[Any]:
    if isinstance(node, promql_parser.VectorSelector):
        yield node
    for child in _children(node):
        yield from _selectors(child)


def referenced_metrics(expr: str, contract: Mapping[str, Metric] = CONTRACT) -> set[str]:
    """The metrics an expression reads, by contract name (histogram and `_created` suffixes
    stripped). Raises ValueError when the expression does not parse."""
    tree = promql_parser.parse(expr)
    return {_family(_metric_name(s), contract) for s in _selectors(tree)}


class _Checker:
    """Walks one parsed expression: which labels each part's result carries, and every
    metric, label or value the contract does not know."""

    def __init__(self, contract: Mapping[str, Metric]) -> None:
        self.metrics = {**PROMETHEUS_SERIES, **contract}
        self.problems: list[str] = []

    def _labels_of(self, selector: Any) -> dict[str, frozenset[str] | None] | None:
        name = _metric_name(selector)
        family = _family(name, self.metrics)
        metric = self.metrics.get(family)
        if metric is None:
            self.problems.append(f"unknown metric {name}")
            return None
        labels = {**TARGET_LABELS, **metric.labels}
        if name.endswith("_bucket") and metric.kind == "histogram":
            labels["le"] = None
        return labels

    def _selector(self, selector: Any) -> frozenset[str] | None:
        labels = self._labels_of(selector)
        if labels is None:
            return None
        name = _metric_name(selector)
        for m in selector.matchers.matchers:
            if m.name == "__name__":
                continue
            if m.name not in labels:
                self.problems.append(f"{name} has no label {m.name!r}")
                continue
            allowed = labels[m.name]
            if allowed is None:
                continue
            if m.op == promql_parser.MatchOp.Equal and m.value not in allowed:
                self.problems.append(f"{name}{{{m.name}}} is never {m.value!r}")
            elif m.op == promql_parser.MatchOp.Re:
                self._regex(name, m.name, m.value, allowed)
        return frozenset(labels)

    def _regex(self, name: str, label: str, regex: str, allowed: frozenset[str]) -> None:
        if re.fullmatch(r"[\w.-]+(\|[\w.-]+)*", regex):  # a plain list of alternatives
            for value in regex.split("|"):
                if value not in allowed:
                    self.problems.append(f"{name}{{{label}}} is never {value!r}")
        elif not any(re.fullmatch(regex, value) for value in allowed):
            self.problems.append(f"{name}{{{label}=~{regex!r}}} matches no value")

    def _need(self, wanted: list[str], have: frozenset[str] | None, where: str) -> None:
        if have is None:
            return
        missing = sorted(set(wanted) - have)
        if missing:
            self.problems.append(f"{where}: no label {', '.join(missing)} to group or match on")

    def _is_scalar(self, node: Any) -> bool:
        if isinstance(node, promql_parser.NumberLiteral):
            return True
        if isinstance(node, promql_parser.Call):
            return bool(node.func.return_type == promql_parser.ValueType.Scalar)
        if isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr):
            return self._is_scalar(node.expr)
        if isinstance(node, promql_parser.BinaryExpr):
            return self._is_scalar(node.lhs) and self._is_scalar(node.rhs)
        return False

    def labels(self, node: Any) -> frozenset[str] | None:
        """The labels the node's result carries (None: unknown, after a problem)."""
        if isinstance(node, promql_parser.VectorSelector):
            return self._selector(node)
        if isinstance(node, promql_parser.MatrixSelector):
            return self.labels(node.vector_selector)
        if isinstance(
            node, promql_parser.ParenExpr | promql_parser.SubqueryExpr | promql_parser.UnaryExpr
        ):
            return self.labels(node.expr)
        if isinstance(node, promql_parser.NumberLiteral | promql_parser.StringLiteral):
            return frozenset()
        if isinstance(node, promql_parser.AggregateExpr):
            return self._aggregate(node)
        if isinstance(node, promql_parser.Call):
            return self._call(node)
        if isinstance(node, promql_parser.BinaryExpr):
            return self._binary(node)
        self.problems.append(f"unsupported expression {type(node).__name__}: {node}")
        return None

    def _aggregate(self, node: Any) -> frozenset[str] | None:
        if node.param is not None:
            self.labels(node.param)
        inner = self.labels(node.expr)
        op = str(node.op)
        grouping = list(node.modifier.labels) if node.modifier is not None else []
        self._need(grouping, inner, f"{op} by/without")
        if op in {"topk", "bottomk", "limitk", "limit_ratio"}:
            return inner
        if node.modifier is None:
            return frozenset()
        if node.modifier.type == promql_parser.AggModifierType.By:
            return frozenset(grouping)
        return None if inner is None else inner - set(grouping)

    def _call(self, node: Any) -> frozenset[str] | None:
        args = [self.labels(arg) for arg in node.args]
        name = node.func.name
        if node.func.return_type == promql_parser.ValueType.Scalar:
            return frozenset()
        if name in {"absent", "absent_over_time"}:
            arg = node.args[0]
            if isinstance(arg, promql_parser.MatrixSelector):
                arg = arg.vector_selector
            if not isinstance(arg, promql_parser.VectorSelector):
                return frozenset()
            return frozenset(
                m.name
                for m in arg.matchers.matchers
                if m.op == promql_parser.MatchOp.Equal and m.name != "__name__"
            )
        if name == "histogram_quantile":
            self._need(["le"], args[1], "histogram_quantile")
            return None if args[1] is None else args[1] - {"le"}
        if name in {"label_replace", "label_join"}:
            return None if args[0] is None else args[0] | {node.args[1].val}
        vectors = [
            labels
            for arg, labels in zip(node.args, args, strict=True)
            if not isinstance(arg, promql_parser.NumberLiteral | promql_parser.StringLiteral)
        ]
        return vectors[0] if vectors else frozenset()

    def _binary(self, node: Any) -> frozenset[str] | None:
        lhs, rhs = self.labels(node.lhs), self.labels(node.rhs)
        if self._is_scalar(node.lhs):
            return rhs
        if self._is_scalar(node.rhs):
            return lhs
        op = str(node.op)
        modifier = node.modifier
        matching = getattr(modifier, "matching", None)
        on = list(matching.labels) if matching is not None else []
        include = list(getattr(modifier, "group_labels", None) or [])
        self._need(on, lhs, f"{op} on/ignoring (left)")
        self._need(on, rhs, f"{op} on/ignoring (right)")
        if op in {"and", "unless"}:
            return lhs
        if op == "or":
            return None if lhs is None or rhs is None else lhs & rhs
        card = getattr(modifier, "card", promql_parser.VectorMatchCardinality.OneToOne)
        if card == promql_parser.VectorMatchCardinality.ManyToOne:
            self._need(include, rhs, f"{op} group_left")
            return None if lhs is None else lhs | set(include)
        if card == promql_parser.VectorMatchCardinality.OneToMany:
            self._need(include, lhs, f"{op} group_right")
            return None if rhs is None else rhs | set(include)
        if lhs is None:
            return None
        if matching is None:
            return lhs
        if matching.type == promql_parser.LabelModifierType.Include:
            return frozenset(on)
        return lhs - set(on)


def expr_problems(
    expr: str, contract: Mapping[str, Metric] | None = None
) -> tuple[list[str], frozenset[str] | None]:
    """Everything wrong with one expression, and the labels its result carries (`contract`
    None: the services' metrics and the series the rule files record)."""
    contract = known_series() if contract is None else contract
    try:
        tree = promql_parser.parse(expr)
    except ValueError as exc:
        return [f"does not parse: {exc}"], None
    checker = _Checker(contract)
    labels = checker.labels(tree)
    return checker.problems, labels


_TEMPLATE_LABEL = re.compile(r"\$labels\.(\w+)|\.Labels\.(\w+)|index \$labels \"(\w+)\"")


def alert_problems(
    rule: Mapping[str, Any], contract: Mapping[str, Metric] | None = None
) -> list[str]:
    """Everything wrong with one alerting rule."""
    problems = []
    if not rule.get("alert"):
        problems.append("no alert name")
    if "for" not in rule:
        problems.append("no `for`")
    if rule.get("labels", {}).get("severity") not in SEVERITIES:
        problems.append(f"severity not one of {sorted(SEVERITIES)}")
    annotations = rule.get("annotations", {})
    for key in ("summary", "description", "runbook"):
        if not str(annotations.get(key, "")).strip():
            problems.append(f"no annotation {key}")
    expr_issues, labels = expr_problems(str(rule.get("expr", "")), contract)
    problems += expr_issues
    for key, text in annotations.items():
        for match in _TEMPLATE_LABEL.finditer(str(text)):
            label = next(group for group in match.groups() if group)
            if label not in ANNOTATION_LABELS:
                problems.append(f"annotation {key} shows label {label!r}, not an operational one")
            elif labels is not None and label not in labels:
                problems.append(f"annotation {key} shows label {label!r}, which the result lacks")
    return problems


# --- the files -------------------------------------------------------------------------------


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _rule_files() -> list[Path]:
    return [MONITORING / name for name in _load_yaml(PROMETHEUS_YML)["rule_files"]]


@functools.cache
def known_series() -> dict[str, Metric]:
    """The services' metrics and the series the rule files record (such as an alert's
    threshold), each recorded one a gauge with the labels its expression gives."""
    recorded = {
        rule["record"]: Metric(
            "gauge", dict.fromkeys(expr_problems(rule["expr"], CONTRACT)[1] or ())
        )
        for path in _rule_files()
        for group in _load_yaml(path)["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    return {**CONTRACT, **recorded}


def _alerts() -> list[dict[str, Any]]:
    return [
        rule
        for path in _rule_files()
        for group in _load_yaml(path)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def _dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD_JSON.read_text(encoding="utf-8")))


def _targets(dashboard: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{panel['title']} {target.get('refId')}", target)
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]


def _datasource_uid() -> str:
    (datasource,) = _load_yaml(DATASOURCES_YAML)["datasources"]
    return str(datasource["uid"])


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")


def grafana_expr(expr: str, variables: set[str]) -> tuple[str, list[str]]:
    """The expression with Grafana's variables replaced by stand-ins, and any variable that is
    neither Grafana's own nor defined by the dashboard."""
    unknown: list[str] = []

    def stand_in(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in GRAFANA_BUILTINS:
            return GRAFANA_BUILTINS[name]
        if name not in variables:
            unknown.append(name)
        return ".*"

    return _VARIABLE.sub(stand_in, expr), unknown


def dashboard_schema(datasource_uid: str) -> dict[str, Any]:
    """The part of Grafana's dashboard model (schemaVersion 39) this project relies on."""
    datasource = {
        "type": "object",
        "required": ["type", "uid"],
        "properties": {"type": {"const": "prometheus"}, "uid": {"const": datasource_uid}},
    }
    grid = {
        "type": "object",
        "required": ["h", "w", "x", "y"],
        "properties": {
            "h": {"type": "integer", "minimum": 1},
            "w": {"type": "integer", "minimum": 1, "maximum": 24},
            "x": {"type": "integer", "minimum": 0, "maximum": 23},
            "y": {"type": "integer", "minimum": 0},
        },
    }
    target = {
        "type": "object",
        "required": ["refId", "expr", "datasource"],
        "properties": {
            "refId": {"type": "string", "pattern": "^[A-Z]$"},
            "expr": {"type": "string", "minLength": 1},
            "datasource": datasource,
            "legendFormat": {"type": "string"},
        },
    }
    row = {
        "type": "object",
        "required": ["id", "type", "title", "gridPos"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "type": {"const": "row"},
            "title": {"type": "string", "minLength": 1},
            "gridPos": grid,
            "panels": {"type": "array", "maxItems": 0},
        },
    }
    panel = {
        "type": "object",
        "required": ["id", "type", "title", "gridPos", "datasource", "targets"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "type": {"enum": ["timeseries", "stat", "table", "state-timeline", "bargauge"]},
            "title": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "gridPos": grid,
            "datasource": datasource,
            "targets": {"type": "array", "minItems": 1, "items": target},
        },
    }
    variable = {
        "type": "object",
        "required": ["name", "type"],
        "properties": {
            "name": {"type": "string", "pattern": r"^\w+$"},
            "type": {"enum": ["query", "custom", "constant", "interval", "textbox"]},
            "datasource": datasource,
        },
        "if": {"properties": {"type": {"const": "query"}}},
        "then": {
            "required": ["datasource", "query"],
            "properties": {
                "query": {
                    "type": "object",
                    "required": ["query"],
                    "properties": {"query": {"type": "string", "minLength": 1}},
                }
            },
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["uid", "title", "schemaVersion", "panels", "templating", "time"],
        "properties": {
            "uid": {"const": "fsi-intake"},
            "title": {"type": "string", "minLength": 1},
            "schemaVersion": {"type": "integer", "minimum": 36, "maximum": 41},
            "id": {"type": "null"},
            "panels": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "if": {"required": ["type"], "properties": {"type": {"const": "row"}}},
                    "then": row,
                    "else": panel,
                },
            },
            "templating": {
                "type": "object",
                "required": ["list"],
                "properties": {"list": {"type": "array", "items": variable}},
            },
        },
    }


def dashboard_problems(dashboard: Mapping[str, Any], datasource_uid: str) -> list[str]:
    """Everything wrong with the dashboard: schema, ids, layout, expressions, variables."""
    validator = jsonschema.Draft202012Validator(dashboard_schema(datasource_uid))
    problems = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(dashboard)
    ]
    if problems:
        return problems
    ids = [panel["id"] for panel in dashboard["panels"]]
    problems += [f"panel id {i} used twice" for i in sorted({i for i in ids if ids.count(i) > 1})]
    taken: dict[tuple[int, int], str] = {}
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        if pos["x"] + pos["w"] > 24:
            problems.append(f"{panel['title']}: wider than the 24-column grid")
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                if (x, y) in taken:
                    problems.append(f"{panel['title']} overlaps {taken[x, y]}")
                    break
                taken[x, y] = panel["title"]
            else:
                continue
            break
    variables = {variable["name"] for variable in dashboard["templating"]["list"]}
    exprs = [(name, target["expr"]) for name, target in _targets(dashboard)]
    exprs += [
        (f"variable {v['name']}", _label_values_metric(v["query"]["query"]))
        for v in dashboard["templating"]["list"]
        if v["type"] == "query"
    ]
    for name, expr in exprs:
        plain, unknown = grafana_expr(expr, variables)
        problems += [f"{name}: unknown variable ${v}" for v in unknown]
        problems += [f"{name}: {p}" for p in expr_problems(plain)[0]]
    return problems


def _label_values_metric(query: str) -> str:
    """`label_values(selector, label)` as the PromQL `max by (label) (selector)`, which fails
    the checker when the selector's metric lacks the label."""
    match = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\s*\)\s*", query)
    if match is None:
        return query
    return f"max by ({match.group(2)}) ({match.group(1)})"


# --- tests: the checker can fail -------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("fsi_outbox_pending_rows", {"fsi_outbox_pending_rows"}),
        (
            "histogram_quantile(0.99, sum by (le) "
            "(rate(fsi_routing_handle_duration_seconds_bucket[5m])))",
            {"fsi_routing_handle_duration_seconds"},
        ),
        (
            "rate(fsi_intake_request_duration_seconds_sum[5m])"
            " / rate(fsi_intake_request_duration_seconds_count[5m])",
            {"fsi_intake_request_duration_seconds"},
        ),
        ("time() - fsi_routing_decisions_created", {"fsi_routing_decisions_total"}),
        ('absent(up{job="fsi-router"})', {"up"}),
        ('{__name__="fsi_broker_up"} == 0', {"fsi_broker_up"}),
        ("max(fsi_broker_up", None),
        ("fsi_outbox_pending_rows_count", {"fsi_outbox_pending_rows_count"}),
    ],
)
def test_referenced_metrics_names_the_contract_metric(expr: str, expected: set[str] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="unclosed left parenthesis"):
            referenced_metrics(expr)
    else:
        assert referenced_metrics(expr) == expected


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("sum(rate(fsi_intake_reports_total[5m])", "does not parse"),
        ("rate(fsi_intake_reports_total)", "does not parse"),
        ("rate(fsi_intake_report_total[5m])", "unknown metric fsi_intake_report_total"),
        ("fsi_routing_redeliveries_total_bucket", "unknown metric"),
        ('{__name__=~"fsi_.*"}', "unknown metric"),
        ('fsi_queue_messages_ready{kind="unit", unti="x"}', "has no label 'unti'"),
        ('fsi_queue_messages_ready{kind="units"}', "is never 'units'"),
        ('fsi_intake_reports_total{result=~"invalid|conflcit"}', "is never 'conflcit'"),
        ('fsi_case_events_total{verdict=~"refus.*"}', "matches no value"),
        ('up{job="fsi-routr"}', "is never 'fsi-routr'"),
        ("max by (unit) (fsi_outbox_pending_rows)", "no label unit"),
        (
            "sum by (queue) (fsi_case_deadlines_missed) and on (queue) fsi_queue_consumers",
            "no label queue",
        ),
        ("histogram_quantile(0.9, sum by (path) (rate(fsi_intake_requests_total[5m])))", "le"),
    ],
)
def test_checker_rejects_a_broken_expression(expr: str, problem: str) -> None:
    problems, _ = expr_problems(expr)
    assert any(problem in p for p in problems), problems


def test_checker_follows_labels_through_aggregation_and_matching() -> None:
    cases: dict[str, Set[str] | None] = {
        "max by (unit, moment) (fsi_case_deadlines_missed)": {"unit", "moment"},
        "sum without (instance) (fsi_case_deadlines_missed)": {"job", "unit", "moment"},
        "time() - max by (job) (fsi_ops_refreshed_timestamp_seconds) > 60": {"job"},
        "fsi_queue_consumers / on (queue) group_left (moment) fsi_case_deadlines_missed": None,
        'absent(up{job="fsi-router"})': {"job"},
        "count(count by (version) (fsi_routing_ruleset_info))": set(),
    }
    for expr, expected in cases.items():
        problems, labels = expr_problems(expr)
        if expected is None:
            assert problems == ["/ on/ignoring (right): no label queue to group or match on"]
        else:
            assert problems == [], (expr, problems)
            assert labels == expected, expr


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda r: r.pop("for"), "no `for`"),
        (lambda r: r["labels"].update(severity="page"), "severity"),
        (lambda r: r["annotations"].pop("summary"), "no annotation summary"),
        (lambda r: r.update(expr="max(fsi_outbox_oldest_pending_age) > 1"), "unknown metric"),
        (
            lambda r: r["annotations"].update(summary="{{ $labels.name }} waits"),
            "label 'name', not an operational one",
        ),
        (
            lambda r: r["annotations"].update(summary="{{ $labels.unit }} waits"),
            "label 'unit', which the result lacks",
        ),
    ],
)
def test_alert_checker_rejects_a_broken_rule(change: Any, problem: str) -> None:
    rule = copy.deepcopy(next(r for r in _alerts() if r["alert"] == "FsiOutboxLagHigh"))
    assert alert_problems(rule) == []
    change(rule)
    assert any(problem in p for p in alert_problems(rule)), alert_problems(rule)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["panels"][1]["targets"][0].pop("expr"), "'expr' is a required property"),
        (lambda d: d["panels"][1]["datasource"].update(uid="other"), "'fsi-prometheus' was"),
        (lambda d: d["panels"][2].update(id=d["panels"][1]["id"]), "used twice"),
        (lambda d: d["panels"][2]["gridPos"].update(x=0), "overlaps"),
        (lambda d: d["panels"][2]["gridPos"].update(x=22), "wider than"),
        (lambda d: d["panels"][1]["targets"][0].update(expr="min(fsi_db_up)"), "unknown metric"),
        (
            lambda d: d["panels"][1]["targets"][0].update(expr="max(fsi_broker_up{d=~'$distrct'})"),
            "unknown variable $distrct",
        ),
        (
            lambda d: d["templating"]["list"][0]["query"].update(query="label_values(up, unit)"),
            "unit",
        ),
    ],
)
def test_dashboard_checker_rejects_a_broken_dashboard(change: Any, problem: str) -> None:
    dashboard = _dashboard()
    assert dashboard_problems(dashboard, _datasource_uid()) == []
    change(dashboard)
    problems = dashboard_problems(dashboard, _datasource_uid())
    assert any(problem in p for p in problems), problems


# --- tests: the files ------------------------------------------------------------------------


def test_prometheus_config_scrapes_both_services_and_loads_the_alerts() -> None:
    config = _load_yaml(PROMETHEUS_YML)
    assert config["global"]["scrape_interval"]
    assert config["global"]["evaluation_interval"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    intake = [t for c in jobs["fsi-intake"]["static_configs"] for t in c["targets"]]
    router = [t for c in jobs["fsi-router"]["static_configs"] for t in c["targets"]]
    assert intake
    assert all(t.endswith(":8000") for t in intake)
    assert router
    assert all(t.endswith(":9102") for t in router)
    assert "alerts.yml" in config["rule_files"]
    for path in _rule_files():
        assert path.is_file(), path


@pytest.mark.parametrize("rule", _alerts(), ids=lambda rule: rule["alert"])
def test_alert_is_complete_and_reads_only_the_contract(rule: dict[str, Any]) -> None:
    assert alert_problems(rule) == []


def test_alert_names_are_unique_and_each_has_a_runbook_entry() -> None:
    names = [rule["alert"] for rule in _alerts()]
    assert len(names) == len(set(names))
    anchors = _anchors(OPERATIONS_MD.read_text(encoding="utf-8"))
    for rule in _alerts():
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert page == "docs/operations.md", rule["alert"]
        assert anchor in anchors, (rule["alert"], anchor)
        assert f"`{rule['alert']}`" in OPERATIONS_MD.read_text(encoding="utf-8"), rule["alert"]


def test_every_alert_has_a_promtool_case_that_fires_it() -> None:
    tests = _load_yaml(MONITORING / "alerts.test.yml")
    assert [MONITORING / name for name in tests["rule_files"]] == _rule_files()
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert {rule["alert"] for rule in _alerts()} <= fired


def test_the_alert_expressions_cover_what_operators_watch() -> None:
    read = set().union(*(referenced_metrics(rule["expr"]) for rule in _alerts()))
    assert {
        "fsi_outbox_oldest_pending_age_seconds",
        "fsi_queue_messages_ready",
        "fsi_queue_consumers",
        "fsi_routing_dead_letters_total",
        "fsi_case_deadlines_missed",
        "fsi_cases_not_received",
        "fsi_case_events_total",
        "fsi_routing_rule_reloads_total",
        "fsi_intake_reports_total",
        "fsi_intake_requests_total",
        "fsi_broker_up",
        "fsi_database_up",
        "fsi_ops_refreshed_timestamp_seconds",
        "up",
    } <= read


def test_dashboard_validates_and_reads_only_the_contract() -> None:
    assert dashboard_problems(_dashboard(), _datasource_uid()) == []


@pytest.mark.parametrize(
    "expr", [target["expr"] for _, target in _targets(_dashboard())], ids=lambda e: e[:60]
)
def test_dashboard_expression_parses(expr: str) -> None:
    plain, unknown = grafana_expr(expr, {"district"})
    assert unknown == []
    assert referenced_metrics(plain)


def test_dashboard_has_a_district_variable_used_by_the_unit_panels() -> None:
    dashboard = _dashboard()
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["district"]
    uses = [name for name, target in _targets(dashboard) if "$district" in target["expr"]]
    assert len(uses) >= 5
    shown = set().union(
        *(
            referenced_metrics(grafana_expr(t["expr"], {"district"})[0])
            for _, t in _targets(dashboard)
        )
    )
    assert {m for m in CONTRACT if m.startswith("fsi_")} - shown == set()


def test_grafana_provisioning_points_at_the_dashboard_and_the_datasource() -> None:
    (datasource,) = _load_yaml(DATASOURCES_YAML)["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["access"] == "proxy"
    assert datasource["url"].startswith("http")
    (provider,) = _load_yaml(DASHBOARD_PROVIDERS_YAML)["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]
    assert _dashboard()["uid"] == "fsi-intake"


def _registered() -> dict[str, Metric]:
    """The services' own metrics as their modules define them."""
    from prometheus_client.metrics import MetricWrapperBase

    from services.intake import metrics as intake_metrics
    from services.intake import ops
    from services.routing import metrics as routing_metrics

    found: dict[str, Metric] = {}
    for module in (intake_metrics, ops, routing_metrics):
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                assert value._type is not None  # every metric class sets its type
                suffix = {"counter": "_total", "info": "_info"}.get(value._type, "")
                labels = dict.fromkeys(value._labelnames)
                found[value._name + suffix] = Metric(value._type, labels)
    return found


def test_the_contract_is_what_the_services_register() -> None:
    registered = _registered()
    contract = CONTRACT
    assert set(registered) == set(contract)
    for name, metric in registered.items():
        assert metric.kind == contract[name].kind, name
        if metric.kind != "info":  # an Info metric's labels are its value, set at run time
            assert set(metric.labels) == set(contract[name].labels), name
