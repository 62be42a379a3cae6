"""Erasure after closure in PostgreSQL, as the job's own login: a report whose cases closed
longer ago than the period keeps no personal data in any table; one closed within it, with a
case open or anything waiting, is untouched; a dry run changes nothing; two runs at once
erase each report once; only erasure changes the audit; the command as a deployment runs it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from schemas.caseevents import CaseEventKind, ReturnReason
from services.intake import retention
from tests.integration.intake.retention_support import (
    NAMES,
    NEEDLES,
    OTHER_UNIT,
    REASON,
    UNIT,
    close,
    found_anywhere,
    report_with_cases,
    unit_event,
)

pytestmark = pytest.mark.integration

PERSONAL_TABLES = {"reports", "outbox", "report_versions", "person_acts", "person_decisions"}


@pytest.fixture
async def job(retention_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(retention_database_url)
    yield conn
    await conn.close()


async def everything(conn: asyncpg.Connection) -> dict[str, list[str]]:
    """Every row of every table as text, sorted: what a dry run must leave as it is."""
    tables = await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind = 'r' AND n.nspname = current_schema()"
    )
    return {
        t: sorted(r[0] for r in await conn.fetch(f'SELECT t::text FROM "{t}" t')) for (t,) in tables
    }


async def test_a_report_closed_past_the_period_keeps_no_personal_data_in_any_table(
    owner: asyncpg.Connection, job: asyncpg.Connection
) -> None:
    report_id = await report_with_cases(owner, (UNIT, OTHER_UNIT))
    await close(owner, report_id, UNIT, days_ago=45)
    await close(owner, report_id, OTHER_UNIT, days_ago=31)
    before = await found_anywhere(owner, NEEDLES)
    assert {table for table, _ in before} >= PERSONAL_TABLES, before
    assert {n for _, n in before} == set(NEEDLES)

    done = await retention.run(job, days=30, batch=10, dry_run=False)
    assert (done.reports, done.batches, done.dry_run) == (1, 1, False)

    assert await found_anywhere(owner, NEEDLES) == set()
    row = await owner.fetchrow("SELECT * FROM reports WHERE id = $1", report_id)
    assert (bytes(row["raw_body"]), json.loads(row["report"])) == (b"", {})
    # Issues keep their code and path, not their message (which quoted a name).
    assert json.loads(row["quality_issues"]) == [{"code": "x", "path": "$.persons[1].name"}]
    # Ids, codes and times stay: the cases, their events, the decisions, the acts.
    cases = await owner.fetch(
        "SELECT unit, outcome FROM unit_cases WHERE report_id = $1", report_id
    )
    assert sorted(tuple(c) for c in cases) == sorted(
        [(OTHER_UNIT, "dismissed"), (UNIT, "dismissed")]
    )
    assert (
        await owner.fetchval("SELECT count(*) FROM case_events WHERE report_id = $1", report_id)
        == 4
    )
    assert (
        await owner.fetchval("SELECT count(*) FROM decisions WHERE report_id = $1", report_id) == 1
    )
    act = await owner.fetchrow("SELECT * FROM person_acts WHERE report_id = $1", report_id)
    assert (act["kind"], act["actor"], act["reason"], act["response"]) == (
        "corrected",
        "anne",
        None,
        None,
    )
    assert json.loads(act["details"]) == {"fields": ["offences"]}
    decision = json.loads(
        await owner.fetchval(
            "SELECT decision FROM person_decisions WHERE report_id = $1", report_id
        )
    )
    assert decision["decided_by"] == {"subject": "anne", "role": "assessor", "act": "corrected"}
    erasure = await owner.fetchrow("SELECT * FROM erasures WHERE report_id = $1", report_id)
    last_closed = await owner.fetchval(
        "SELECT max(closed_at) FROM unit_cases WHERE report_id = $1", report_id
    )
    assert (erasure["closed_at"], erasure["kept_days"]) == (last_closed, 30)
    assert set(erasure["erased"]) == {
        "reports.raw_body", "reports.report", "reports.quality_issues",
        "report_versions.report", "report_versions.quality_issues",
        "person_acts.reason", "person_acts.response",
        "person_decisions.decision.decided_by.reason", "outbox.payload",
    }  # fmt: skip
    # Idempotent: a run again finds nothing more and changes nothing.
    kept = await everything(owner)
    assert (await retention.run(job, days=30, batch=10, dry_run=False)).reports == 0
    assert await everything(owner) == kept


async def test_a_closure_within_the_period_an_open_case_or_a_wait_keeps_the_report(
    owner: asyncpg.Connection, job: asyncpg.Connection
) -> None:
    recent = await report_with_cases(owner)
    await close(owner, recent, UNIT, days_ago=29)
    one_open = await report_with_cases(owner, (UNIT, OTHER_UNIT))
    await close(owner, one_open, UNIT, days_ago=60)
    on_the_list = await report_with_cases(owner)
    await close(owner, on_the_list, UNIT, days_ago=60)
    await owner.execute(
        "INSERT INTO work_items (report_id, source, reason, priority, priority_rank, received_at,"
        " waiting_since) VALUES ($1, 'x', 'rule', 'normal', 1, now(), now())",
        on_the_list,
    )
    unsent = await report_with_cases(owner)
    await close(owner, unsent, UNIT, days_ago=60)
    await owner.execute(
        "UPDATE outbox SET published_at = NULL WHERE report_id = $1 AND decision_id IS NULL",
        unsent,
    )
    # Returned by one unit (back on the work list, then closed there by a person) and closed
    # by the other: due.
    returned = await report_with_cases(owner, (UNIT, OTHER_UNIT))
    back = dt.datetime.now(dt.UTC) - dt.timedelta(days=50)
    await unit_event(
        owner, returned, OTHER_UNIT, CaseEventKind.RETURNED, back, reason=ReturnReason.WRONG_UNIT
    )
    assert await owner.fetchval("SELECT state FROM work_items WHERE report_id = $1", returned) == (
        "waiting"
    )
    await close(owner, returned, UNIT, days_ago=40)
    assert (await retention.run(job, days=30, batch=10, dry_run=True)).reports == 0
    await owner.execute(
        "UPDATE work_items SET state = 'done', outcome = 'closed' WHERE report_id = $1", returned
    )

    before = await everything(owner)
    # Its last closure was 40 days ago: not due with a period of 41 days, due with 30.
    assert (await retention.run(job, days=41, batch=10, dry_run=True)).reports == 0
    dry = await retention.run(job, days=30, batch=10, dry_run=True)
    assert (dry.reports, dry.batches, dry.dry_run) == (1, 0, True)
    assert await everything(owner) == before

    done = await retention.run(job, days=30, batch=10, dry_run=False)
    assert done.reports == 1
    erased = {r[0] for r in await owner.fetch("SELECT report_id FROM erasures")}
    assert erased == {returned}
    for kept in (recent, one_open, on_the_list, unsent):
        report = await owner.fetchval("SELECT report::text FROM reports WHERE id = $1", kept)
        assert NAMES[0] in report, kept


async def test_two_runs_at_once_erase_each_report_once(
    owner: asyncpg.Connection, retention_database_url: str
) -> None:
    reports = [await report_with_cases(owner) for _ in range(24)]
    for report_id in reports:
        await close(owner, report_id, UNIT, days_ago=10)
    first, second = (
        await asyncpg.connect(retention_database_url),
        await asyncpg.connect(retention_database_url),
    )
    try:
        runs = await asyncio.gather(
            retention.run(first, days=7, batch=5, dry_run=False),
            retention.run(second, days=7, batch=5, dry_run=False),
        )
    finally:
        await first.close()
        await second.close()
    assert sum(r.reports for r in runs) == 24
    assert await owner.fetchval("SELECT count(*) FROM erasures") == 24
    assert await found_anywhere(owner, NEEDLES) == set()


async def test_only_erasure_changes_the_audit_and_the_job_may_only_erase(
    owner: asyncpg.Connection, job: asyncpg.Connection, intake_database_url: str
) -> None:
    report_id = await report_with_cases(owner, (UNIT, OTHER_UNIT))
    # The owner, even saying it erases, cannot blank an act's reason of a report whose
    # erasure is not recorded, nor delete a version, nor change an erasure.
    async with owner.transaction():
        await owner.execute("SET LOCAL fsi.erasure = 'on'")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await owner.execute(
                "UPDATE person_acts SET reason = NULL WHERE report_id = $1", report_id
            )
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await owner.execute("DELETE FROM report_versions WHERE report_id = $1", report_id)
    await close(owner, report_id, UNIT, days_ago=3)
    await close(owner, report_id, OTHER_UNIT, days_ago=3)
    assert (await retention.run(job, days=1, batch=1, dry_run=False)).reports == 1
    # Erased: the reason may not be set again, nor another column changed.
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await owner.execute(
            "UPDATE person_acts SET reason = $2 WHERE report_id = $1", report_id, REASON
        )
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await owner.execute("UPDATE person_acts SET actor = 'per' WHERE report_id = $1", report_id)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await owner.execute("DELETE FROM erasures WHERE report_id = $1", report_id)
    # The job's login reads no personal column and writes no table; the services' logins
    # may not erase.
    for statement in (
        "SELECT raw_body FROM reports",
        "SELECT report FROM reports",
        "SELECT reason FROM person_acts",
        "UPDATE reports SET report = '{}'",
        "UPDATE person_acts SET reason = NULL",
        "INSERT INTO erasures (report_id, closed_at, kept_days, erased)"
        " VALUES (gen_random_uuid(), now(), 0, '{}')",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await job.execute(statement)
    intake = await asyncpg.connect(intake_database_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.fetch("SELECT * FROM erase_after_closure(now(), 0, 1)")
    finally:
        await intake.close()


def _command(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    settings = {
        "FSI_DB_URL": url,
        "FSI_ENVIRONMENT": "production",
        "FSI_LOG_FORMAT": "json",
        "FSI_RETENTION_AFTER_CLOSURE_DAYS": "5",
        **env,
    }
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "services.intake.retention", "erase", *args],
        env={**os.environ, **settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_command_as_its_own_login_counts_then_erases(
    owner: asyncpg.Connection, retention_database_url: str, database_url: str
) -> None:
    due = [await report_with_cases(owner) for _ in range(3)]
    for report_id in due:
        await close(owner, report_id, UNIT, days_ago=6)
    kept = await report_with_cases(owner)
    await close(owner, kept, UNIT, days_ago=4)

    dry = await asyncio.to_thread(_command, retention_database_url, "--dry-run", "--batch", "2")
    assert dry.returncode == 0, dry.stderr
    said = [json.loads(line) for line in dry.stdout.splitlines()]
    (counted,) = [s for s in said if s["event"].startswith("erasure due")]
    assert (counted["due"], counted["kept_days"], counted["shown"]) == (3, 5, 2)
    assert await owner.fetchval("SELECT count(*) FROM erasures") == 0

    done = await asyncio.to_thread(_command, retention_database_url, "--batch", "2")
    assert done.returncode == 0, done.stderr
    said = [json.loads(line) for line in done.stdout.splitlines()]
    batches = [s for s in said if s["event"] == "reports erased"]
    assert [b["erased"] for b in batches] == [2, 1]
    assert {uuid.UUID(i) for b in batches for i in b["report_ids"]} == set(due)
    (end,) = [s for s in said if s["event"] == "erasure done"]
    assert (end["erased"], end["batches"]) == (3, 2)
    # Counts, ids and column names only: nothing that was erased.
    assert not any(n in done.stdout + dry.stdout for n in NEEDLES)
    erased = {r[0] for r in await owner.fetch("SELECT report_id FROM erasures")}
    assert erased == set(due)

    # In production the owner's login (a superuser here) is refused, said in one line.
    refused = await asyncio.to_thread(_command, database_url)
    assert refused.returncode == 78, refused.stderr
    assert refused.stderr.startswith("fsi-retention: FSI_DB_URL connects as"), refused.stderr
    bad = await asyncio.to_thread(
        _command, retention_database_url, FSI_RETENTION_AFTER_CLOSURE_DAYS="-1"
    )
    assert bad.returncode == 78
    assert "FSI_RETENTION_AFTER_CLOSURE_DAYS" in bad.stderr
