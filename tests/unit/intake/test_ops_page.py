"""What the operations page announces, and the URLs of its own files (pure)."""

from __future__ import annotations

import datetime as dt
import hashlib

from services.common.caseevents.figures import UnitDeadlineFigures, totals
from services.intake import ops_api
from services.intake.ops_views import (
    DistrictView,
    Overview,
    QueueState,
    Service,
    UnitView,
    WorklistDistrict,
    WorklistView,
)

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
DEADLINES = [
    UnitDeadlineFigures(
        unit="oslo.vold",
        missed=2,
        missed_by_moment={"arrest": 1, "report": 1},
        due_within_24h=1,
        not_received=2,
    ),
    UnitDeadlineFigures(
        unit="oslo.okonomi", missed=1, missed_by_moment={"report": 1}, due_within_24h=3
    ),
]


def overview(
    *,
    broker: bool = True,
    database: bool = True,
    read: bool = True,
    worklist: WorklistView | None = None,
    triage_ready: int = 4,
) -> Overview:
    unit = UnitView("oslo.vold", "Seksjon for vold", missed=2, due_within_24h=1)
    other = UnitView("oslo.okonomi", "Seksjon for økonomi", missed=1, due_within_24h=3)
    return Overview(
        generated_at=NOW,
        broker=Service(broker, NOW, None if broker else "ConnectionError"),
        database=Service(database, NOW),
        ruleset=None,
        outbox=None,
        triage=QueueState("fsi.triage", ready=triage_ready) if read else None,
        dead_letter=QueueState("fsi.dead-letter", ready=0) if read else None,
        routing=None,
        districts=[DistrictView("Oslo", [unit, other], "oslo.vold", 0, 3, 4)],
        worklist=worklist,
        deadlines=DEADLINES if read else [],
        deadline_totals=totals(DEADLINES) if read else None,
    )


def test_summary_names_the_services_and_the_totals() -> None:
    # The triage queue holds 4 copies; nothing is on the work list: nothing waits in triage.
    empty = WorklistView(0, None, {"closure": 0, "transfer": 0, "downgrade": 0}, [])
    assert ops_api.summary(overview(worklist=empty)) == (
        "RabbitMQ up, PostgreSQL up. Deadlines missed: 3, 1 of them custody; due within "
        "24 h: 4. Cases not received by their unit: 2. "
        "Waiting in triage: 0; proposals for a prosecutor: 0; downgrades to review: 0; "
        "dead letters: 0; in the outbox: unknown."
    )


def test_summary_counts_the_work_list_as_what_waits_in_triage_not_the_queue() -> None:
    oslo = WorklistDistrict("oslo", 3, 7200.0, {"rule": 3}, {"closure": 1})
    vest = WorklistDistrict("vest", 1, 600.0, {"transferred": 1}, {"transfer": 1, "downgrade": 2})
    listed = WorklistView(4, 7200.0, {"closure": 1, "transfer": 1, "downgrade": 2}, [oslo, vest])
    text = ops_api.summary(overview(worklist=listed, triage_ready=13))
    assert (
        "Waiting in triage: 4, the oldest for 2 h; proposals for a prosecutor: 2; "
        "downgrades to review: 2; dead letters: 0;"
    ) in text
    assert "13" not in text


def test_summary_says_what_cannot_be_reached_and_what_is_unknown() -> None:
    text = ops_api.summary(overview(broker=False, read=False))
    assert text.startswith("RabbitMQ cannot be reached, PostgreSQL up.")
    assert "Waiting in triage: unknown; dead letters: unknown" in text
    assert " Deadlines: unknown. " in text
    # An error class or anything from a report never reaches the announcement.
    assert "ConnectionError" not in text


def test_summary_before_the_first_reading() -> None:
    assert ops_api.summary(None) == "No figures yet."


def test_asset_urls_change_with_their_content() -> None:
    for name, (file, _) in ops_api._ASSET_FILES.items():
        body = (ops_api.STATIC / file).read_bytes()
        version = hashlib.sha256(body).hexdigest()[:12]
        assert ops_api.asset(name) == f"/ops/static/{name}?v={version}"


def test_summary_leaves_custody_out_when_none_is_missed() -> None:
    o = overview()
    o.deadline_totals = totals([UnitDeadlineFigures(unit="vest.orden", open=4)])
    assert " Deadlines missed: 0; due within 24 h: 0. Cases not received by their unit: 0." in (
        ops_api.summary(o)
    )


def test_percent_and_unit_names() -> None:
    assert [ops_api.percent(s) for s in (None, 0.0, 0.8986, 1.0)] == ["–", "0 %", "90 %", "100 %"]
    assert ops_api.unit_names(overview()) == {
        "oslo.vold": "Oslo · Seksjon for vold",
        "oslo.okonomi": "Oslo · Seksjon for økonomi",
    }
    assert ops_api.unit_names(None) == {}
