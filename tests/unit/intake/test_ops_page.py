"""What the operations page announces, and the URLs of its own files (pure)."""

from __future__ import annotations

import datetime as dt
import hashlib

from services.intake import ops_api
from services.intake.ops_views import DistrictView, Overview, QueueState, Service, UnitView

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def overview(*, broker: bool = True, database: bool = True, read: bool = True) -> Overview:
    unit = UnitView("oslo.vold", "Seksjon for vold", overdue=2, due_24h=1)
    other = UnitView("oslo.okonomi", "Seksjon for økonomi", overdue=1, due_24h=3)
    return Overview(
        generated_at=NOW,
        broker=Service(broker, NOW, None if broker else "ConnectionError"),
        database=Service(database, NOW),
        ruleset=None,
        outbox=None,
        triage=QueueState("fsi.triage", ready=4) if read else None,
        dead_letter=QueueState("fsi.dead-letter", ready=0) if read else None,
        routing=None,
        districts=[DistrictView("Oslo", [unit, other], "oslo.vold", 0, 3, 4)],
        overdue_look_back_days=30,
    )


def test_summary_names_the_services_and_the_totals() -> None:
    assert ops_api.summary(overview()) == (
        "RabbitMQ up, PostgreSQL up. Deadlines passed: 3; within 24 h: 4. "
        "In triage: 4; dead letters: 0; in the outbox: unknown."
    )


def test_summary_says_what_cannot_be_reached_and_what_is_unknown() -> None:
    text = ops_api.summary(overview(broker=False, read=False))
    assert text.startswith("RabbitMQ cannot be reached, PostgreSQL up.")
    assert "In triage: unknown; dead letters: unknown" in text
    # An error class or anything from a report never reaches the announcement.
    assert "ConnectionError" not in text


def test_summary_before_the_first_reading() -> None:
    assert ops_api.summary(None) == "No figures yet."


def test_asset_urls_change_with_their_content() -> None:
    for name, (file, _) in ops_api._ASSET_FILES.items():
        body = (ops_api.STATIC / file).read_bytes()
        version = hashlib.sha256(body).hexdigest()[:12]
        assert ops_api.asset(name) == f"/ops/static/{name}?v={version}"
