"""Report outcome labels stay bounded and free of what senders write."""

from __future__ import annotations

from prometheus_client import REGISTRY

from services.intake import metrics


def count(source: str, result: str) -> float:
    value = REGISTRY.get_sample_value(
        "fsi_intake_reports_total", {"source": source, "result": result}
    )
    return value or 0.0


def test_only_named_sources_become_labels() -> None:
    named = frozenset({"politiet.no"})
    before = (count("politiet.no", "accepted"), count("other", "accepted"))
    metrics.report("politiet.no", "accepted", named)
    metrics.report("Ola Nordmann 01017012345", "accepted", named)
    assert count("politiet.no", "accepted") == before[0] + 1
    assert count("other", "accepted") == before[1] + 1
    assert count("Ola Nordmann 01017012345", "accepted") == 0


def test_a_report_without_a_readable_source_is_unknown() -> None:
    before = count("unknown", "invalid")
    metrics.report(None, "invalid", frozenset({"politiet.no"}))
    assert count("unknown", "invalid") == before + 1
