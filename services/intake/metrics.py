"""The intake's Prometheus metrics: report outcomes, outbox, queues, deadlines, HTTP, work list.

Labels carry only bounded, non-personal values: a source the client is allowed to submit
for (else `unknown`), a fixed outcome name. The outbox, queue and deadline gauges are set
by the ops monitor (`ops`), on an interval, never per scrape.

Counter series whose label values are known before the first event (outcomes; the sources of
the clients file) are exported at 0 from the start: a series that first appears at 1 reads as
no increase to `rate()` and `increase()`, and the alert on it would miss the first event.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import time
from typing import Any

from litestar import Response, route
from litestar.enums import HttpMethod, ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    PLATFORM_COLLECTOR,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from services.common.caseevents import metrics as caseevent_metrics

# `python_info` names the interpreter's exact version for anyone who can scrape; the router
# drops it too (whichever module comes first).
with contextlib.suppress(KeyError):
    REGISTRY.unregister(PLATFORM_COLLECTOR)

RESULTS = ("accepted", "soft_flagged", "duplicate", "conflict", "invalid", "refused")
PUBLISH_RESULTS = ("published", "failed")
UNKNOWN_SOURCE = "unknown"
OTHER_SOURCE = "other"

reports = Counter(
    "fsi_intake_reports",
    "Reports submitted, by source and outcome (batch items counted one by one).",
    ["source", "result"],
)
outbox_pending = Gauge("fsi_outbox_pending_rows", "Outbox rows not yet published.")
outbox_oldest_age = Gauge(
    "fsi_outbox_oldest_pending_age_seconds",
    "Age of the oldest unpublished outbox row (0 when none).",
)
publishes = Counter(
    "fsi_outbox_publishes", "Outbox rows published with confirm, or failed.", ["result"]
)
payloads_purged = Counter(
    "fsi_outbox_payloads_purged",
    "Published outbox rows whose copy of the report was cleared (retention).",
)
outbox_unmarked = Counter(
    "fsi_outbox_unmarked",
    "Outbox rows the broker confirmed but the relay could not mark published (they are "
    "published again once their claim expires).",
)
outbox_set_aside = Counter(
    "fsi_outbox_set_aside",
    "Outbox rows set aside after FSI_RELAY_MAX_ATTEMPTS claims ended without an outcome.",
)
outbox_set_aside_rows = Gauge(
    "fsi_outbox_set_aside_rows", "Outbox rows set aside now, waiting for an operator."
)
for _result in PUBLISH_RESULTS:
    publishes.labels(_result)

# Set by the operations monitor from each overview it reads (`ops`).
_QUEUE_LABELS = ["queue", "kind", "district", "unit"]
queue_ready = Gauge("fsi_queue_messages_ready", "Messages ready in a queue.", _QUEUE_LABELS)
queue_unacknowledged = Gauge(
    "fsi_queue_messages_unacknowledged",
    "Messages delivered and not yet acknowledged (management API only).",
    _QUEUE_LABELS,
)
queue_consumers = Gauge("fsi_queue_consumers", "Consumers of a queue.", _QUEUE_LABELS)
cases_routed = Gauge(
    "fsi_cases_routed_last_hour", "Cases routed to a unit in the last hour.", ["district", "unit"]
)
# The units' deadlines, exact from the cases they hold (services.common.caseevents.figures):
# every unit of the catalogue and every unit holding a case, at 0 when it has none; `moment`
# is what the rule counted from (`arrest`, `report`, `none`), a series only while > 0; the
# ratio only for a unit with a deadline due in the last 30 days.
case_deadlines_open = Gauge(
    "fsi_case_deadlines_open",
    "Deadlines of cases a unit holds not met and not yet due.",
    ["unit"],
)
case_deadlines_due_soon = Gauge(
    "fsi_case_deadlines_due_soon",
    "Open deadlines (not met) of cases a unit holds due within 24 hours.",
    ["unit"],
)
case_deadlines_missed = Gauge(
    "fsi_case_deadlines_missed",
    "Deadlines of cases a unit holds that fell due without the event that meets them, by "
    "the moment the rule counted from (arrest: custody).",
    ["unit", "moment"],
)
case_deadlines_met_on_time_ratio = Gauge(
    "fsi_case_deadlines_met_on_time_ratio",
    "Share of the deadlines due in the last 30 days (while the unit held the case) met on time.",
    ["unit"],
)
cases_not_received = Gauge(
    "fsi_cases_not_received",
    "Cases routed to a unit longer ago than FSI_OPS_NOT_RECEIVED_AFTER_SECONDS that it has "
    "neither received, returned nor closed.",
    ["unit"],
)
broker_up = Gauge("fsi_broker_up", "1 when the monitor could read RabbitMQ.")
database_up = Gauge("fsi_database_up", "1 when the monitor could read PostgreSQL.")
ops_refreshed = Gauge("fsi_ops_refreshed_timestamp_seconds", "When the overview was last read.")
# Not known before the first reading, nor while PostgreSQL cannot be read: NaN, never a 0
# that would say "down" or "no backlog" (alerts compare with 0; NaN compares false).
NOT_KNOWN = float("nan")
for _gauge in (broker_up, database_up, outbox_pending, outbox_oldest_age, outbox_set_aside_rows):
    _gauge.set(NOT_KNOWN)


# The work list of the triage workbench. The three gauges are set by the operations monitor
# from one read of PostgreSQL; the histograms and the counter where a person's act commits
# (`first_action`, `disposed`). District `none`: a report no district could be placed for.
NO_DISTRICT = "none"
DISPOSITION_KINDS = (
    "correct",
    "route",
    "transfer",
    "link",
    "close",
    "approve",
    "reject",
    "reviewed",
)
APPROVAL_KINDS = ("closure", "transfer", "downgrade")
# From a minute to a week: people answer in minutes on a good day, in days on a bad one.
TRIAGE_BUCKETS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800, 604800)
triage_waiting = Gauge(
    "fsi_triage_waiting_reports",
    "Reports waiting on the work list for a person, by district and why they wait.",
    ["district", "reason"],
)
triage_oldest_age = Gauge(
    "fsi_triage_oldest_waiting_age_seconds",
    "Time the longest-waiting report of a district has been on its work list (since it last "
    "began to wait; 0 when none waits).",
    ["district"],
)
triage_approvals_pending = Gauge(
    "fsi_triage_approvals_pending",
    "Proposals waiting for a prosecutor (closure, transfer out of the police) and downgrades "
    "not yet reviewed.",
    ["kind"],
)
triage_first_action = Histogram(
    "fsi_triage_time_to_first_action_seconds",
    "From a report beginning to wait on a district's work list to its first claim there.",
    ["district"],
    buckets=TRIAGE_BUCKETS,
)
triage_disposition = Histogram(
    "fsi_triage_time_to_disposition_seconds",
    "From a report beginning to wait on a district's work list to the person's disposition "
    "that takes it off that list (a case sent, a proposal made, a transfer).",
    ["district"],
    buckets=TRIAGE_BUCKETS,
)
triage_dispositions = Counter(
    "fsi_triage_dispositions",
    "People's dispositions and approvals recorded, by kind (retries answered from the first "
    "act are not counted; previews neither).",
    ["kind"],
)
for _kind in DISPOSITION_KINDS:
    triage_dispositions.labels(_kind)

# Case events posted by the units (`POST /v1/cases/{id}/events`): the counter both doors
# share (services.common.caseevents.metrics), via="http" here, each kind and verdict at 0.
caseevent_metrics.export_at_zero("http")


def case_event(kind: str, verdict: str) -> None:
    """Count one case event posted over HTTP: its kind (or `unknown`) and its verdict (one
    of `services.common.caseevents.metrics.VERDICTS`)."""
    caseevent_metrics.case_events.labels("http", kind, verdict).inc()


def _district(district: str | None) -> str:
    return NO_DISTRICT if district is None else district


def first_action(district: str | None, waiting_since: dt.datetime, now: dt.datetime) -> None:
    """Observe a report's first claim since it began to wait (`waiting_since`, UTC)."""
    seconds = max(0.0, (now - waiting_since).total_seconds())
    triage_first_action.labels(_district(district)).observe(seconds)


def disposed(
    kind: str,
    district: str | None = None,
    waiting_since: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Count a committed disposition of `kind` (one of `DISPOSITION_KINDS`); with
    `waiting_since` and `now`, it took the report off the district's work list: observe how
    long it waited."""
    triage_dispositions.labels(kind).inc()
    if waiting_since is not None and now is not None:
        seconds = max(0.0, (now - waiting_since).total_seconds())
        triage_disposition.labels(_district(district)).observe(seconds)


def known_sources(named: frozenset[str]) -> None:
    """Export every report outcome at 0 for each source label this process can count: the
    sources named in the clients file, `unknown` and `other` (see `report`)."""
    for source in (*sorted(named), UNKNOWN_SOURCE, OTHER_SOURCE):
        for result in RESULTS:
            reports.labels(source, result)


def report(source: str | None, result: str, named: frozenset[str] = frozenset()) -> None:
    """Count one report's outcome. Only sources named in the clients file become label
    values; a client allowed any source would otherwise mint a series per string."""
    label = UNKNOWN_SOURCE if source is None else source if source in named else OTHER_SOURCE
    reports.labels(label, result).inc()


# HTTP requests, by route template (never the concrete path: it may hold a report id). The
# names and labels are those of Litestar's Prometheus middleware, which cost 34 µs a request
# here (a Request object and label dicts each time) against about 5 for this one.
_HTTP_LABELS = ["app_name", "method", "path", "status_code"]
APP_NAME = "fsi-intake"
requests = Counter("fsi_intake_requests", "HTTP requests answered.", _HTTP_LABELS)
request_seconds = Histogram(
    "fsi_intake_request_duration_seconds", "Time to answer an HTTP request.", _HTTP_LABELS
)
requests_in_progress = Gauge(
    "fsi_intake_requests_in_progress", "HTTP requests being answered.", _HTTP_LABELS
)
request_errors = Counter(
    "fsi_intake_requests_error", "HTTP requests answered with a 5xx.", _HTTP_LABELS
)


@functools.cache
def _http_children(method: str, path: str, status: int) -> tuple[Any, Any, Any]:
    labels = (APP_NAME, method, path, str(status))
    return (
        requests.labels(*labels),
        request_seconds.labels(*labels),
        request_errors.labels(*labels) if status >= 500 else None,
    )


@functools.cache
def _in_progress(method: str, path: str) -> Any:
    return requests_in_progress.labels(APP_NAME, method, path, "200")


def http_metrics(app: ASGIApp) -> ASGIApp:
    """ASGI middleware counting and timing each request by its route template."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method, path = scope["method"], str(scope.get("path_template", ""))
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        running = _in_progress(method, path)
        running.inc()
        try:
            await app(scope, receive, sending)
        finally:
            running.dec()
            counted, timed, errors = _http_children(method, path, status)
            counted.inc()
            timed.observe(time.perf_counter() - started)
            if errors is not None:
                errors.inc()

    return middleware


@route("/metrics", http_method=[HttpMethod.GET, HttpMethod.HEAD], tags=["health"])
async def endpoint() -> Response[bytes]:
    """This process's metrics in Prometheus' text format (HEAD: the same without a body).
    Litestar's `PrometheusController` answers GET only; with several workers each has its
    own registry, so one intake process is one scrape target."""
    return Response(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
