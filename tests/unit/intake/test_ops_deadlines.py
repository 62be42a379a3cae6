"""The units' deadline figures as the monitor shapes them: from the statement's rows to one
entry per unit and the totals, and the gauges set from them (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import REGISTRY

from services.common.caseevents.figures import (
    NO_MOMENT,
    UnitDeadlineFigures,
    share,
    totals,
    unit_figures,
)
from services.intake import ops_gauges

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
ZERO = {
    "moment": None,
    "open": 0,
    "due_soon": 0,
    "missed": 0,
    "next_due": None,
    "due": 0,
    "met_on_time": 0,
    "not_received": 0,
}


def row(part: str, unit: str, **values: Any) -> dict[str, Any]:
    return {**ZERO, "part": part, "unit": unit, **values}


ROWS = [
    row("unmet", "oslo.vold", moment="arrest", open=1, due_soon=1, missed=2,
        next_due=NOW + dt.timedelta(hours=5)),
    row("unmet", "oslo.vold", moment="report", open=3, missed=1,
        next_due=NOW + dt.timedelta(hours=2)),
    row("unmet", "oslo.vold", moment=None, missed=1),
    row("due", "oslo.vold", due=10, met_on_time=7),
    row("not_received", "oslo.vold", not_received=2),
    row("due", "vest.orden", due=4, met_on_time=4),
    row("not_received", "agder.orden", not_received=1),
]  # fmt: skip


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_rows_become_one_entry_per_unit_most_missed_first() -> None:
    vold, agder, vest = unit_figures(ROWS)
    assert vold == UnitDeadlineFigures(
        unit="oslo.vold",
        open=4,
        due_within_24h=1,
        missed=4,
        missed_by_moment={"arrest": 2, NO_MOMENT: 1, "report": 1},
        due_last_30_days=10,
        met_on_time_last_30_days=7,
        share_met_on_time=0.7,
        not_received=2,
        next_due_at=NOW + dt.timedelta(hours=2),
    )
    # Nothing missed or due: the one not received comes before the one with none.
    assert (agder.unit, agder.not_received, agder.share_met_on_time) == ("agder.orden", 1, None)
    assert (vest.unit, vest.share_met_on_time, vest.missed_by_moment) == ("vest.orden", 1.0, {})


def test_totals_add_up_and_share_over_every_deadline_due() -> None:
    t = totals(unit_figures(ROWS))
    assert (t.open, t.due_within_24h, t.missed, t.not_received) == (4, 1, 4, 3)
    assert t.missed_by_moment == {"arrest": 2, "none": 1, "report": 1}
    assert (t.due_last_30_days, t.met_on_time_last_30_days, t.share_met_on_time) == (14, 11, 0.7857)
    assert totals([]).share_met_on_time is None


def test_share_is_none_when_nothing_fell_due() -> None:
    assert [share(0, 0), share(0, 3), share(2, 3), share(3, 3)] == [None, 0.0, 0.6667, 1.0]


def test_a_missed_custody_deadline_is_a_gauge_with_moment_arrest() -> None:
    ops_gauges.set_deadline_gauges(unit_figures(ROWS), ["oslo.vold", "oslo.okonomi"])
    assert sample("fsi_case_deadlines_missed", unit="oslo.vold", moment="arrest") == 2
    assert sample("fsi_case_deadlines_missed", unit="oslo.vold", moment="none") == 1
    assert sample("fsi_case_deadlines_open", unit="oslo.vold") == 4
    assert sample("fsi_case_deadlines_due_soon", unit="oslo.vold") == 1
    assert sample("fsi_case_deadlines_met_on_time_ratio", unit="oslo.vold") == 0.7
    assert sample("fsi_cases_not_received", unit="oslo.vold") == 2
    # A catalogue unit with nothing is at 0; no missed series and no ratio are made for it.
    assert sample("fsi_case_deadlines_open", unit="oslo.okonomi") == 0
    assert sample("fsi_cases_not_received", unit="oslo.okonomi") == 0
    assert sample("fsi_case_deadlines_missed", unit="oslo.okonomi", moment="arrest") is None
    assert sample("fsi_case_deadlines_met_on_time_ratio", unit="oslo.okonomi") is None
    # A unit outside the catalogue still holding cases is shown.
    assert sample("fsi_cases_not_received", unit="agder.orden") == 1


def test_a_deadline_met_late_leaves_the_missed_gauge() -> None:
    ops_gauges.set_deadline_gauges(unit_figures(ROWS), ["oslo.vold"])
    ops_gauges.set_deadline_gauges(unit_figures(ROWS[1:]), ["oslo.vold"])
    assert sample("fsi_case_deadlines_missed", unit="oslo.vold", moment="arrest") is None


def test_no_deadline_gauge_while_postgresql_cannot_be_read() -> None:
    ops_gauges.set_deadline_gauges(unit_figures(ROWS), ["oslo.vold"])
    ops_gauges.set_deadline_gauges(None, ["oslo.vold"])
    for name in ("fsi_case_deadlines_open", "fsi_cases_not_received"):
        assert sample(name, unit="oslo.vold") is None
    assert sample("fsi_case_deadlines_missed", unit="oslo.vold", moment="arrest") is None
