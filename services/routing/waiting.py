"""Cases waiting for their unit's queue: published again, with backoff, until one takes them.

A case the broker returned (no queue bound for its unit, e.g. a queue deleted while the
router runs) waits in `waiting_cases`. Every router looks for cases due (locked, so two
routers never publish the same one at once) and publishes each again from the stored report
and decision: confirmed, it is recorded as delivered and its wait ends; returned again, it
is counted and waits longer (2 s, doubling, at most 60 s). An operator's repair
(`fsi-declare`, which declares every unit queue of the catalogue) is thus picked up within
a minute, without a restart. A person's case returned likewise waits in
`person_waiting_cases` and is published again in the same looks (`PersonCases.retry_due`).
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass

from services.common.logging import get_logger
from services.routing import metrics, outcome_store
from services.routing.cases import (
    FIRST_WAIT_SECONDS,
    MAX_WAIT_SECONDS,
    CaseWire,
    case_headers,
    publish_case,
    returned,
)
from services.routing.deliveries import TRANSIENT
from services.routing.handler import Router, count_decision, triage_reason
from services.routing.person_cases import PersonCases
from services.routing.triage_entry import work_entry

log = get_logger("router")


@dataclass
class WaitingCases:
    """Publishes due waiting cases again through the router's channel until cancelled."""

    router: Router
    person: PersonCases | None = None  # people's cases waiting likewise (`person_cases`)
    poll_seconds: float = 1.0
    batch: int = 200
    delivered: int = 0  # waiting cases a queue took, since start
    _failing: str | None = None  # the failure last logged, until a look succeeds

    async def run(self) -> None:
        """Look for due cases every `poll_seconds`; a database or broker failure passes
        (logged once, not at every look)."""
        while True:
            try:
                while await self.retry_due() == self.batch:
                    pass  # a full batch: more may be due
                while self.person and await self.person.retry_due(self.batch) == self.batch:
                    pass
                self._failing = None
            except TRANSIENT as exc:
                if self._failing != type(exc).__name__:
                    log.warning("publishing waiting cases failed", error=type(exc).__name__)
                self._failing = type(exc).__name__
            await asyncio.sleep(self.poll_seconds)

    async def retry_due(self) -> int:
        """Publish the cases due now, once each; how many were due."""
        async with self.router.pool.acquire() as conn, conn.transaction():
            due = await outcome_store.due_waiting_cases(conn, self.batch)
            if not due:
                return 0
            channel, exchange = await self.router.case_channel()
            results = await asyncio.gather(
                *(
                    publish_case(
                        channel,
                        exchange,
                        CaseWire(c.report_id, c.report, c.decision),
                        case_headers(c.decision),
                    )
                    for c in due
                ),
                return_exceptions=True,
            )
            outcomes = list(zip(due, results, strict=True))
            taken = [c for c, r in outcomes if r is None]
            confirmed = [(c.report_id, c.decision.unit) for c in taken]
            bounced = [(c.report_id, c.decision.unit) for c, r in outcomes if returned(r)]
            # A case neither confirmed nor returned (the channel failed) keeps its time and
            # is tried again at the next look.
            ruleset = self.router.ruleset
            entries = (
                work_entry(c.decision, triage_reason(c.decision, c.quality_issues), ruleset)
                for c in taken
            )
            await outcome_store.record_outcomes(
                conn,
                confirmed,
                bounced,
                FIRST_WAIT_SECONDS,
                MAX_WAIT_SECONDS,
                [e for e in entries if e is not None],
            )
            # The cases returned in this look are only those due now: the others of their
            # unit wait for a later look, and the log line counts them all.
            units = sorted({unit for _, unit in bounced})
            still = await outcome_store.waiting_by_unit(conn, units) if units else {}
        self.delivered += len(confirmed)
        for case in taken:
            # Its first confirmation (a case a queue took before never waits): counted now.
            count_decision(case.decision, case.quality_issues)
            log.info("waiting case routed", report_id=str(case.report_id), unit=case.decision.unit)
        # One line per unit, not per case: a missing queue may hold back many.
        for unit, returned_now in collections.Counter(unit for _, unit in bounced).items():
            metrics.unroutable.labels(unit).inc(returned_now)
            log.warning(
                "cases still wait: no queue for their unit",
                unit=unit,
                queue=self.router.topology.case_queue(unit).name,
                cases=still.get(unit, returned_now),
                returned_again=returned_now,
            )
        return len(due)
