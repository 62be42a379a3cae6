"""An in-memory `ReportStore` for the service's unit tests: what the PostgreSQL one promises."""

from __future__ import annotations

import datetime as dt
import uuid

from services.intake.records import NewReport, Outcome, ReportRow, Stored


class MemoryReportStore:
    """`services.intake.service.ReportStore` in a dict keyed by (source, external_id).

    Like `PgReportStore`: a new key is kept with its outbox message (`outbox`, by report id)
    and accepted; a kept key is a duplicate when the content hash is the kept one's, else a
    conflict, either answered with the kept report's id and writing nothing. Every report it
    keeps reads back as `accepted` (no relay or router runs here)."""

    def __init__(self) -> None:
        self.reports: dict[tuple[str, str], NewReport] = {}
        self.received: dict[uuid.UUID, dt.datetime] = {}
        self.outbox: dict[uuid.UUID, bytes] = {}
        self.calls = 0

    async def insert_reports(self, items: list[NewReport]) -> list[Stored]:
        self.calls += 1
        results = []
        for item in items:
            kept = self.reports.get((item.source, item.external_id))
            if kept is None:
                self.reports[(item.source, item.external_id)] = item
                self.received[item.id] = dt.datetime.now(dt.UTC)
                self.outbox[item.id] = item.payload
                results.append(Stored(Outcome.ACCEPTED, item.id))
            elif kept.content_hash == item.content_hash:
                results.append(Stored(Outcome.DUPLICATE, kept.id))
            else:
                results.append(Stored(Outcome.CONFLICT, kept.id))
        return results

    async def get_report(self, report_id: uuid.UUID) -> ReportRow | None:
        kept = next((r for r in self.reports.values() if r.id == report_id), None)
        if kept is None:
            return None
        return ReportRow(
            id=kept.id,
            client_id=kept.client_id,
            status="accepted",
            source_format=kept.source_format,
            received_at=self.received[kept.id],
            published_at=None,
            report_json=kept.report_json,
            quality_issues_json=kept.quality_issues_json,
            decision_json=None,
        )

    async def ping(self) -> bool:
        return True
