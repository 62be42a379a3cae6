"""The intake's Prometheus metrics: report outcomes, outbox lag and publishes.

Labels carry only bounded, non-personal values: a source the client is allowed to submit
for (else `unknown`), a fixed outcome name. Queue and deadline gauges are set by the ops
monitor (`ops`), on an interval, never per scrape.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RESULTS = ("accepted", "soft_flagged", "duplicate", "conflict", "invalid", "refused")
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


def report(source: str | None, result: str, named: frozenset[str] = frozenset()) -> None:
    """Count one report's outcome. Only sources named in the clients file become label
    values; a client allowed any source would otherwise mint a series per string."""
    label = UNKNOWN_SOURCE if source is None else source if source in named else OTHER_SOURCE
    reports.labels(label, result).inc()
