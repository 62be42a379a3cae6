"""The database access matrix: what the intake's and the router's logins may do to each table,
tried on the real database (each statement in a transaction that is rolled back), and the
attacks on the append-only audit, refused for both; TRUNCATE refused even for the owner."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from services.intake.settings import IntakeSettings
from services.routing.settings import RoutingSettings

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
ALL = "all"  # every column

# What each service's statements use (services/intake/*store*.py, services/routing/*store*.py,
# replay.py): for each table, the columns it may read, insert and update (ALL, or a set).
# Nothing may delete or truncate, except the intake's purge of ended operator sessions.
# What an event changes of a held case (services/common/caseevents/store.py).
CASE_STATE = {
    "received_at",
    "returned_at",
    "return_reason",
    "closed_at",
    "outcome",
    "last_event_at",
    "met_at",
    "met_event",
    "updated_at",
}
# What a return changes of a work item done before: waiting again, its claim and outcome gone.
RETURN_TO_LIST = {
    "district",
    "reason",
    "detail",
    "priority",
    "priority_rank",
    "deadline_at",
    "waiting_since",
    "state",
    "claimed_by",
    "claim_role",
    "claim_token",
    "lease_until",
    "pending_act",
    "outcome",
    "updated_at",
}
INTAKE: dict[str, dict[str, Any]] = {
    "schema_migrations": {"SELECT": ALL},
    "reports": {
        # Never the raw body back: no service reads it.
        "SELECT": {
            "id",
            "client_id",
            "source",
            "external_id",
            "source_format",
            "content_hash",
            "report",
            "quality_issues",
            "received_at",
        },
        "INSERT": ALL,
    },
    "outbox": {
        "SELECT": ALL,
        "INSERT": ALL,
        # Never which report a row announces, its message type or routing key.
        "UPDATE": {
            "payload",
            "attempts",
            "unsettled",
            "next_attempt_at",
            "set_aside_at",
            "last_error",
            "published_at",
        },
    },
    "decisions": {"SELECT": ALL},
    "case_deliveries": {"SELECT": ALL},
    "waiting_cases": {"SELECT": ALL},
    "dead_letters": {"SELECT": ALL},
    "rule_loads": {"SELECT": ALL},
    "operator_sessions": {
        "SELECT": ALL,
        "INSERT": ALL,
        "UPDATE": {"last_seen_at", "ended_at", "end_reason"},
        "DELETE": ALL,
    },
    # The people's half (0011-0013): the audit of acts, versions and people's decisions is
    # written, never changed; the work list's state changes by the acts, its report never.
    "person_acts": {"SELECT": ALL, "INSERT": ALL},
    "report_versions": {"SELECT": ALL, "INSERT": ALL},
    "person_decisions": {"SELECT": ALL, "INSERT": ALL},
    "work_items": {
        "SELECT": ALL,
        "INSERT": ALL,
        "UPDATE": {
            "district",
            "reason",
            "detail",
            "priority",
            "priority_rank",
            "deadline_at",
            "waiting_since",
            "version",
            "state",
            "claimed_by",
            "claim_role",
            "claim_token",
            "lease_until",
            "first_action_at",
            "pending_act",
            "outcome",
            "updated_at",
        },
    },
    "person_case_deliveries": {"SELECT": ALL},
    "person_waiting_cases": {"SELECT": ALL},
    # A report's read says its erasure after closure (the job's own role erases: 0017).
    "erasures": {"SELECT": ALL},
    # Case follow-up (0015): both doors append the units' events and change the held cases
    # by them (services.common.caseevents); the router's confirmations make the held cases
    # (a trigger, run as the router), so only it inserts them.
    "case_events": {"SELECT": ALL, "INSERT": ALL},
    "unit_cases": {"SELECT": ALL, "UPDATE": CASE_STATE},
}
ROUTER: dict[str, dict[str, Any]] = {
    "schema_migrations": {"SELECT": ALL},
    "reports": {
        "SELECT": {"id", "report", "quality_issues", "message_sha256", "source", "received_at"}
    },
    "outbox": {},
    "decisions": {"SELECT": ALL, "INSERT": ALL},
    "case_deliveries": {"SELECT": ALL, "INSERT": ALL},
    "waiting_cases": {
        "SELECT": ALL,
        "INSERT": ALL,
        "UPDATE": {"unit", "returns", "last_returned_at", "next_attempt_at", "delivered_at"},
    },
    "dead_letters": {"INSERT": {"report_id", "code", "reason"}},
    "rule_loads": {"INSERT": {"router", "outcome", "version", "rules", "catalogue", "error"}},
    "operator_sessions": {},
    # A triage case its queue confirmed enters the work list; people's cases are read,
    # published, and their deliveries (or waits for a queue) recorded.
    "person_acts": {},
    "report_versions": {"SELECT": ALL},
    "person_decisions": {"SELECT": ALL},
    # A case its unit returned puts its report back on the work list (0015), waiting again.
    "work_items": {"SELECT": ALL, "INSERT": ALL, "UPDATE": RETURN_TO_LIST},
    "person_case_deliveries": {"SELECT": ALL, "INSERT": ALL},
    "person_waiting_cases": {
        "SELECT": ALL,
        "INSERT": ALL,
        "UPDATE": {"returns", "last_returned_at", "next_attempt_at", "delivered_at"},
    },
    "erasures": {},
    # Case follow-up (0015): both doors append the units' events and change the held cases
    # by them (services.common.caseevents); the router's confirmations make the held cases
    # (a trigger, run as the router), so only it inserts them.
    "case_events": {"SELECT": ALL, "INSERT": ALL},
    "unit_cases": {"SELECT": ALL, "INSERT": ALL, "UPDATE": CASE_STATE},
}
MATRIX = {"intake": INTAKE, "router": ROUTER}
APPEND_ONLY = (
    "decisions",
    "case_deliveries",
    "dead_letters",
    "person_acts",
    "report_versions",
    "person_decisions",
    "person_case_deliveries",
    "erasures",
    "case_events",
)


@pytest.fixture
def service_url(request: pytest.FixtureRequest, service: str) -> str:
    """The URL the service connects with in this suite (its settings')."""
    settings: Callable[..., IntakeSettings | RoutingSettings] = request.getfixturevalue(
        f"{service}_settings"
    )
    return settings().db.url


@pytest.fixture
async def login(service_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the service connects."""
    conn = await asyncpg.connect(service_url)
    yield conn
    await conn.close()


async def _columns(database_url: str, table: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0"
            " AND NOT attisdropped ORDER BY attnum",
            table,
        )
    finally:
        await conn.close()
    return [r["attname"] for r in rows]


def _statement(privilege: str, table: str, column: str) -> str:
    # Statements that touch no row: the privilege is checked before any row is looked at.
    return {
        "SELECT": f'SELECT "{column}" FROM {table} LIMIT 0',
        # OVERRIDING: an identity column's own check would come before the privilege's.
        "INSERT": (
            f'INSERT INTO {table} ("{column}") OVERRIDING SYSTEM VALUE SELECT NULL WHERE false'
        ),
        "UPDATE": f'UPDATE {table} SET "{column}" = DEFAULT WHERE false',
        "DELETE": f"DELETE FROM {table} WHERE false",
        "TRUNCATE": f"TRUNCATE {table}",
    }[privilege]


async def _allowed(conn: asyncpg.Connection, statement: str) -> bool:
    """Whether PostgreSQL lets this login run the statement (rolled back whatever happens;
    a failure other than a refused privilege, such as a trigger's, counts as allowed)."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(statement)
    except asyncpg.InsufficientPrivilegeError:
        return False
    except asyncpg.PostgresError:
        return True
    finally:
        await transaction.rollback()
    return True


def _expected(granted: Any, columns: list[str]) -> dict[str, bool] | bool:
    return {c: granted == ALL or c in granted for c in columns} if columns else bool(granted)


@pytest.mark.parametrize(
    ("service", "table"), [(service, table) for service in MATRIX for table in MATRIX[service]]
)
async def test_each_login_may_do_only_what_its_service_does(
    login: asyncpg.Connection, database_url: str, service: str, table: str
) -> None:
    columns = await _columns(database_url, table)
    seen: dict[str, dict[str, bool] | bool] = {}
    expected: dict[str, dict[str, bool] | bool] = {}
    for privilege in PRIVILEGES:
        granted = MATRIX[service][table].get(privilege, set())
        if privilege in {"SELECT", "INSERT", "UPDATE"}:
            # Column by column: these may be granted for some columns only.
            seen[privilege] = {
                c: await _allowed(login, _statement(privilege, table, c)) for c in columns
            }
            expected[privilege] = _expected(granted, columns)
        else:
            statement = _statement(privilege, table, columns[0])
            seen[privilege] = await _allowed(login, statement)
            expected[privilege] = bool(granted)
    assert seen == expected


async def test_the_matrix_covers_every_table(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }
    finally:
        await conn.close()
    assert set(INTAKE) == set(ROUTER) == tables


ATTACKS = {
    "truncate": "TRUNCATE decisions",
    "truncate cascade": "TRUNCATE reports CASCADE",
    "replica mode": "SET session_replication_role = replica",
    "disable trigger": "ALTER TABLE decisions DISABLE TRIGGER decisions_no_change",
    "disable all triggers": "ALTER TABLE decisions DISABLE TRIGGER ALL",
    "update": "UPDATE decisions SET unit = 'oslo.forged'",
    "delete": "DELETE FROM decisions",
    "drop": "DROP TABLE decisions CASCADE",
    "drop trigger": "DROP TRIGGER decisions_no_change ON decisions",
    "replace trigger function": (
        "CREATE OR REPLACE FUNCTION decisions_append_only() RETURNS trigger"
        " LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
    ),
    "become owner": "SET ROLE fsi_owner",
    "shadow a table": "CREATE TABLE decisions_copy (id int)",
}


async def _a_report(conn: asyncpg.Connection) -> uuid.UUID:
    """A report of the client `alpha` with an empty body; its id."""
    report_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO reports (id, client_id, source, external_id, source_format,"
        " content_hash, raw_body, raw_content_type, report)"
        " VALUES ($1, 'alpha', 'alpha-src', $2, 'canonical', '\\x00', '\\x00',"
        " 'application/json', '{}')",
        report_id,
        str(report_id),
    )
    return report_id


async def _a_decision(database_url: str) -> None:
    # A report and its decision, so an UPDATE or DELETE has a row to change.
    conn = await asyncpg.connect(database_url)
    try:
        report_id = await _a_report(conn)
        await conn.execute(
            "INSERT INTO decisions (report_id, unit, priority, amqp_priority,"
            " ruleset_version, decided_at, decision)"
            " VALUES ($1, 'oslo.felles', 'high', 7, 'v1', now(), '{}')",
            report_id,
        )
    finally:
        await conn.close()


async def _refused(conn: asyncpg.Connection, statement: str) -> str:
    transaction = conn.transaction()
    await transaction.start()
    try:
        await conn.execute(statement)
    except asyncpg.InsufficientPrivilegeError:
        return "refused"
    except asyncpg.PostgresError as exc:
        return f"failed otherwise: {exc.sqlstate}"
    finally:
        await transaction.rollback()
    return "done"


@pytest.mark.parametrize("service", ["intake", "router"])
async def test_the_audit_cannot_be_undone_by_a_service(
    login: asyncpg.Connection, database_url: str, service: str
) -> None:
    await _a_decision(database_url)
    outcomes = {name: await _refused(login, sql) for name, sql in ATTACKS.items()}
    assert outcomes == dict.fromkeys(ATTACKS, "refused")
    check = await asyncpg.connect(database_url)
    try:
        assert await check.fetchval("SELECT count(*) FROM decisions") == 1
        assert await check.fetchval("SELECT unit FROM decisions") == "oslo.felles"
    finally:
        await check.close()


@pytest.mark.parametrize("service", ["intake", "router"])
async def test_the_service_logins_are_plain_members_of_their_role(
    login: asyncpg.Connection, service: str
) -> None:
    row = await login.fetchrow(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication"
        " FROM pg_roles WHERE rolname = current_user"
    )
    assert not any(row.values()), dict(row)
    assert await login.fetchval("SELECT pg_has_role(current_user, $1, 'MEMBER')", f"fsi_{service}")
    others = {"fsi_owner", "fsi_intake", "fsi_router"} - {f"fsi_{service}"}
    for other in sorted(others):
        assert not await login.fetchval("SELECT pg_has_role(current_user, $1, 'MEMBER')", other)
    owner = await login.fetchval("SELECT tableowner FROM pg_tables WHERE tablename = 'decisions'")
    assert owner == "fsi_owner"


@pytest.mark.parametrize("table", APPEND_ONLY)
@pytest.mark.parametrize("who", ["owner", "superuser"])
async def test_truncate_is_refused_even_for_the_owner(
    database_url: str, table: str, who: str
) -> None:
    await _a_decision(database_url)
    conn = await asyncpg.connect(database_url)
    transaction = conn.transaction()
    await transaction.start()
    try:
        if who == "owner":
            await conn.execute("SET LOCAL ROLE fsi_owner")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute(f"TRUNCATE {table} CASCADE")
    finally:
        await transaction.rollback()
        await conn.close()


async def _a_persons_case(conn: asyncpg.Connection) -> None:
    # A report, a person's act on it, its corrected version, the decision it made and the
    # delivery of its case: one row in each of the people's append-only tables.
    report_id, act_id = await _a_report(conn), uuid.uuid4()
    await conn.execute(
        "INSERT INTO person_acts (id, report_id, kind, actor, actor_role)"
        " VALUES ($1, $2, 'corrected', 'anne', 'assessor')",
        act_id,
        report_id,
    )
    await conn.execute(
        "INSERT INTO report_versions (report_id, version, report, act_id) VALUES ($1, 2, '{}', $2)",
        report_id,
        act_id,
    )
    await conn.execute(
        "INSERT INTO person_decisions (id, report_id, version, unit, priority, amqp_priority,"
        " decided_by, decided_role, ruleset_version, decided_at, decision)"
        " VALUES ($1, $2, 2, 'oslo.felles', 'high', 7, 'anne', 'assessor', 'v1', now(), '{}')",
        act_id,
        report_id,
    )
    await conn.execute(
        "INSERT INTO person_case_deliveries (decision_id, report_id, unit)"
        " VALUES ($1, $2, 'oslo.felles')",
        act_id,
        report_id,
    )


@pytest.mark.parametrize(
    "table", ["person_acts", "report_versions", "person_decisions", "person_case_deliveries"]
)
@pytest.mark.parametrize("statement", ["UPDATE {} SET report_id = report_id", "DELETE FROM {}"])
async def test_the_people_audit_cannot_be_changed_even_by_the_owner(
    database_url: str, table: str, statement: str
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await _a_persons_case(conn)
        async with conn.transaction():
            await conn.execute("SET LOCAL ROLE fsi_owner")
            with pytest.raises(asyncpg.RaiseError, match=f"{table} is append-only"):
                await conn.execute(statement.format(table))
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 1
    finally:
        await conn.close()
