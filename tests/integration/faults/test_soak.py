"""A bounded soak: minutes of steady reports through real processes, the invariants kept,
and the services' memory growth reported (artifacts/soak.json)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from tests.integration.faults.test_faults import check
from tests.support.processes import ServiceProcess
from tests.support.system import ROOT, System

SECONDS = float(os.environ.get("FSI_SOAK_SECONDS", "90"))
RATE = 60.0
# A leak of a few kilobytes per report would pass unseen in a short run; this bound catches
# growth in proportion to the work (the figures themselves are written out).
GROWTH_LIMIT_MIB = 80


def rss_mib(process: ServiceProcess | None) -> float:
    assert process is not None
    assert process.process is not None
    status = Path(f"/proc/{process.process.pid}/status").read_text("utf-8")
    line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


async def test_soak_keeps_the_invariants_and_memory_flat(system: System) -> None:
    stop = asyncio.Event()
    load = asyncio.create_task(system.post_steadily(stop, per_second=RATE))
    await asyncio.sleep(min(10.0, SECONDS / 4))  # warm-up: pools, caches, first allocations
    processes = {
        "intake": system.intake,
        **{f"router{i}": r for i, r in enumerate(system.routers)},
    }
    before = {name: rss_mib(p) for name, p in processes.items()}
    await asyncio.sleep(SECONDS)
    after = {name: rss_mib(p) for name, p in processes.items()}
    stop.set()
    await load
    await system.until_settled(within=120)
    outcome = await system.outcome()
    growth_mib = {n: round(after[n] - before[n], 1) for n in before}
    report = {
        "seconds": SECONDS,
        "rate_per_second": RATE,
        "accepted": len(outcome.accepted),
        "lost": len(outcome.lost),
        "duplicated": outcome.duplicated,
        "rss_mib_before": before,
        "rss_mib_after": after,
        "growth_mib": growth_mib,
    }
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "soak.json").write_text(json.dumps(report, indent=2), "utf-8")
    check(outcome, system)
    assert len(outcome.accepted) >= RATE * SECONDS * 0.8, system.answers
    for name, growth in growth_mib.items():
        assert growth < GROWTH_LIMIT_MIB, (name, report)
