"""What the erasure tests share: reports with personal data in every place the intake keeps
some (made with SQL as the owner), cases closed by their unit's `closed` event
(services.common.caseevents), and a search of every table for given values."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable

import asyncpg

from schemas.caseevents import CaseEvent, CaseEventKind, CaseOutcome, ReturnReason
from services.common.caseevents.store import Incoming, apply_events
from tests.support.held_cases import decided_by_a_person, decided_by_rules

UNIT = "oslo.felles-straffesaksinntak"
OTHER_UNIT = "oslo.vold-og-sedelighet"

# Personal data as a test writes it: valid fødselsnummer (python-stdnum's check digits),
# names, a phone, an address, an account and a person's reason; ASCII, so that a value is
# found as written in JSON, bytes and text alike.
NATIONAL_IDS = ("15038540189", "02079140034")
NAMES = ("Kari Skogholt", "Ola Bekkevold")
PHONE = "98765432"
ADDRESS = "Testveien 77B"
ACCOUNT = "Gjerningsmannen kjorte en rod Volvo med skilt XY12345"
REASON = "Snakket med vitnet paa telefon 41234567"
NEEDLES = (*NATIONAL_IDS, *NAMES, PHONE, ADDRESS, ACCOUNT, REASON, "41234567")


def personal_report(external_id: str) -> dict[str, object]:
    """A canonical report holding every needle but the reason."""
    return {
        "source": "politiet-nettanmeldelse",
        "external_id": external_id,
        "reported_at": "2026-11-26T18:42:00+01:00",
        "incident": {
            "occurred_from": "2026-11-26T07:30:00+01:00",
            "municipality": "0301",
            "address": ADDRESS,
            "description": ACCOUNT,
        },
        "offences": [{"code": "strl-321"}],
        "persons": [
            {"role": "victim", "national_id": NATIONAL_IDS[0], "name": NAMES[0], "phone": PHONE},
            {"role": "suspect", "national_id": NATIONAL_IDS[1], "name": NAMES[1]},
        ],
        "quality_issues": [{"code": "x", "path": "$.persons[1].name", "message": NAMES[1]}],
    }


async def report_with_cases(
    conn: asyncpg.Connection, units: Iterable[str] = (UNIT,), routed_days_ago: int = 100
) -> uuid.UUID:
    """A report with personal data in its row and its outbox copy, and a case held by each
    of `units`, routed `routed_days_ago`: the rules' case for the first, a person's for each
    other (a correction: a version, an act with a reason and a kept answer, a decision with
    that reason and its outbox copy)."""
    report_id = uuid.uuid4()
    body = personal_report(report_id.hex)
    text = json.dumps(body)
    issues = json.dumps(body["quality_issues"])
    await conn.execute(
        "INSERT INTO reports (id, client_id, source, external_id, source_format, content_hash,"
        " raw_body, raw_content_type, report, quality_issues) VALUES ($1, 'alpha',"
        " 'politiet-nettanmeldelse', $2, 'canonical', '\\x00', $3, 'application/json', $4,"
        " $5)",
        report_id,
        report_id.hex,
        text.encode(),
        text,
        issues,
    )
    await conn.execute(
        "INSERT INTO outbox (report_id, message_type, source_format, routing_key, payload,"
        " published_at) VALUES ($1, 'fsi.report.accepted.v1', 'canonical', 'report.accepted',"
        " $2, now())",
        report_id,
        text.encode(),
    )
    routed = dt.datetime.now(dt.UTC) - dt.timedelta(days=routed_days_ago)
    first, *others = units
    await decided_by_rules(
        conn, report_id, first, priority="normal", decided_at=routed, confirmed_at=routed
    )
    for unit in others:
        await _person_case(conn, report_id, unit, body, routed)
    return report_id


async def _person_case(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    unit: str,
    body: dict[str, object],
    routed: dt.datetime,
) -> None:
    act = uuid.uuid4()
    answer = {"status": 200, "body": {"reason": REASON, "report": body}}
    await conn.execute(
        "INSERT INTO person_acts (id, report_id, kind, actor, actor_role, reason, details,"
        " idempotency_key, response) VALUES ($1, $2, 'corrected', 'anne', 'assessor', $3,"
        ' \'{"fields": ["offences"]}\', $4, $5)',
        act,
        report_id,
        REASON,
        str(act),
        json.dumps(answer),
    )
    version = 2 + await conn.fetchval(
        "SELECT count(*) FROM report_versions WHERE report_id = $1", report_id
    )
    await conn.execute(
        "INSERT INTO report_versions (report_id, version, report, quality_issues, act_id)"
        " VALUES ($1, $2, $3, $4, $5)",
        report_id,
        version,
        json.dumps(body),
        json.dumps(body["quality_issues"]),
        act,
    )
    decided_by = {"subject": "anne", "role": "assessor", "act": "corrected", "reason": REASON}
    decision = {"report_id": str(report_id), "unit": unit, "decided_by": decided_by}
    await decided_by_a_person(
        conn,
        act,
        report_id,
        unit,
        decision,
        version=version,
        decided_at=dt.datetime.now(dt.UTC),
        confirmed_at=routed,
    )
    await conn.execute(
        "INSERT INTO outbox (report_id, decision_id, message_type, source_format, routing_key,"
        " payload, published_at) VALUES ($1, $2, 'fsi.case.decided.v1', 'canonical',"
        " 'case.decided', $3, now())",
        report_id,
        act,
        json.dumps({"report": body, "decision": decision}).encode(),
    )


async def close(conn: asyncpg.Connection, report_id: uuid.UUID, unit: str, days_ago: int) -> None:
    """The unit receives the report's case and closes it (dismissed), `days_ago`."""
    when = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    await unit_event(conn, report_id, unit, CaseEventKind.RECEIVED, when)
    await unit_event(conn, report_id, unit, CaseEventKind.CLOSED, when, CaseOutcome.DISMISSED)


async def unit_event(
    conn: asyncpg.Connection,
    report_id: uuid.UUID,
    unit: str,
    kind: CaseEventKind,
    at: dt.datetime,
    outcome: CaseOutcome | None = None,
    reason: ReturnReason | None = None,
) -> None:
    """One event of the unit about the report's case, applied (AssertionError if refused)."""
    event = CaseEvent(
        report_id=report_id,
        event_id=uuid.uuid4(),
        unit=unit,
        kind=kind,
        occurred_at=at,
        outcome=outcome,
        reason=reason,
    )
    (outcome_of,) = await apply_events(conn, [Incoming(event, "test-unit", "http")])
    assert outcome_of.verdict == "applied", outcome_of


async def found_anywhere(conn: asyncpg.Connection, needles: Iterable[str]) -> set[tuple[str, str]]:
    """(table, needle) for every needle found in any row of any table of the schema: each
    value as text, bytes decoded as UTF-8."""
    wanted = list(needles)
    tables = await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()"
    )
    assert len(tables) > 15, tables  # every table of the migrations, not none
    found = set()
    for (table,) in tables:
        for row in await conn.fetch(f'SELECT * FROM "{table}"'):
            for value in row.values():
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                found |= {(table, n) for n in wanted if n in text}
    return found
