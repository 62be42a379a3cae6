"""The work list figures of the operations monitor: its rows read as a view, the gauges set
from it, the page's summary and durations, and what the dispositions observe (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import REGISTRY

from services.intake import metrics, ops_api, ops_gauges
from services.intake.ops_store import worklist_view
from services.intake.ops_views import Overview, Service

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def row(
    figure: str, district: str | None, kind: str, n: int, oldest: float | None = None
) -> dict[str, Any]:
    return {"figure": figure, "district": district, "kind": kind, "n": n, "oldest": oldest}


ROWS: list[dict[str, Any]] = [
    row("waiting", "vest", "rule", 2, 600.0),
    row("waiting", "oslo", "quality_issues", 3, 7200.5),
    row("waiting", "oslo", "transferred", 1, 60.0),
    row("waiting", None, "no_district", 4, 90000.0),
    row("pending", "oslo", "closure", 2),
    row("pending", "oslo", "downgrade", 1),
    row("pending", "agder", "transfer", 1),
]


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_rows_become_districts_with_totals_and_the_longest_wait() -> None:
    view = worklist_view(ROWS)
    assert [d.district for d in view.districts] == ["agder", "oslo", "vest", None]
    oslo = view.districts[1]
    assert (oslo.waiting, oslo.oldest_seconds) == (4, 7200.5)
    assert oslo.by_reason == {"quality_issues": 3, "transferred": 1}
    assert oslo.pending == {"closure": 2, "downgrade": 1}
    agder = view.districts[0]
    assert (agder.waiting, agder.oldest_seconds, agder.pending) == (0, None, {"transfer": 1})
    assert view.waiting == 10
    assert view.oldest_seconds == 90000.0
    assert view.pending == {"closure": 2, "transfer": 1, "downgrade": 1}


def test_nothing_waiting_is_zero_everywhere() -> None:
    view = worklist_view([])
    assert (view.waiting, view.oldest_seconds, view.districts) == (0, None, [])
    assert view.pending == {"closure": 0, "transfer": 0, "downgrade": 0}


def test_gauges_show_every_district_and_reason_and_what_waits() -> None:
    ops_gauges.set_worklist_gauges(worklist_view(ROWS), ["oslo", "vest", "agder", "innlandet"])
    waiting = "fsi_triage_waiting_reports"
    assert sample(waiting, district="oslo", reason="quality_issues") == 3
    assert sample(waiting, district="none", reason="no_district") == 4
    assert sample(waiting, district="innlandet", reason="returned") == 0
    oldest = "fsi_triage_oldest_waiting_age_seconds"
    assert sample(oldest, district="none") == 90000.0
    assert sample(oldest, district="oslo") == 7200.5
    assert sample(oldest, district="innlandet") == 0
    pending = "fsi_triage_approvals_pending"
    assert [sample(pending, kind=k) for k in ("closure", "transfer", "downgrade")] == [2, 1, 1]


def test_gauges_vanish_while_postgresql_cannot_be_read() -> None:
    ops_gauges.set_worklist_gauges(worklist_view(ROWS), ["oslo"])
    ops_gauges.set_worklist_gauges(None, ["oslo"])
    assert sample("fsi_triage_oldest_waiting_age_seconds", district="oslo") is None
    assert sample("fsi_triage_approvals_pending", kind="closure") is None


def test_waited_reads_as_operators_count() -> None:
    assert [ops_api.waited(s) for s in (None, 45, 60, 719, 3600, 86399, 172800, 200000)] == [
        "–",
        "45 s",
        "1 min",
        "11 min",
        "1 h",
        "23 h",
        "2 d",
        "2 d",
    ]


def test_summary_names_the_work_list() -> None:
    overview = Overview(
        generated_at=NOW,
        broker=Service(True, NOW),
        database=Service(True, NOW),
        ruleset=None,
        outbox=None,
        triage=None,
        dead_letter=None,
        routing=None,
        districts=[],
        worklist=worklist_view(ROWS),
    )
    # What waits in triage is the people's work list (not the triage queue's copies).
    assert (
        " Waiting in triage: 10, the oldest for 25 h; proposals for a prosecutor: 3; "
        "downgrades to review: 1;" in ops_api.summary(overview)
    )


def test_a_disposition_is_counted_and_its_wait_observed_by_district() -> None:
    count = "fsi_triage_dispositions_total"
    before = sample(count, kind="route")
    assert before is not None  # exported at 0 from the start
    waited = "fsi_triage_time_to_disposition_seconds_bucket"
    under_hour = sample(waited, district="finnmark", le="3600.0") or 0
    under_half = sample(waited, district="finnmark", le="1800.0") or 0
    metrics.disposed("route", "finnmark", NOW - dt.timedelta(minutes=45), NOW)
    metrics.disposed("correct")  # stays on the list: counted, no wait observed
    assert sample(count, kind="route") == before + 1
    assert sample(waited, district="finnmark", le="3600.0") == under_hour + 1
    assert sample(waited, district="finnmark", le="1800.0") == under_half


def test_a_first_claim_is_observed_for_its_district_or_none() -> None:
    name = "fsi_triage_time_to_first_action_seconds"
    # Other tests in this process may have observed claims: compare with before.
    under = sample(f"{name}_bucket", district="none", le="60.0") or 0
    total = sample(f"{name}_sum", district="none") or 0
    metrics.first_action(None, NOW - dt.timedelta(seconds=30), NOW)
    assert sample(f"{name}_bucket", district="none", le="60.0") == under + 1
    assert sample(f"{name}_sum", district="none") == total + 30.0
