"""Test harness: a PostgreSQL database and a RabbitMQ name prefix of the run's own."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aio_pika
import asyncpg
import pytest
import structlog
from stdnum.no import fodselsnummer

from services.common import logging as fsi_logging
from services.common import migrate
from services.common.settings import LogSettings
from services.common.topology import QueueType, Topology
from services.common.topology import delete as delete_topology
from tests import harness
from tests.support import processes

INTEGRATION_DIR = Path(__file__).parent / "integration"
PGBOUNCER_INI = Path(__file__).parent / "data" / "real_inputs" / "pgbouncer.ini"
RUN_ID = uuid.uuid4().hex[:8]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def endpoints() -> Iterator[harness.Endpoints]:
    with harness.endpoints() as found:
        yield found


@pytest.fixture(scope="session")
async def admin_db_url(endpoints: harness.Endpoints) -> str:
    if not harness.reachable(endpoints.database_url, 5432):
        pytest.fail(f"PostgreSQL is not reachable: {harness.HOW_TO_START['PostgreSQL']}")
    return endpoints.database_url


@pytest.fixture(scope="session")
async def template_database_url(admin_db_url: str) -> AsyncIterator[str]:
    """A database of this run's own, migrated once; tests get copies of it."""
    name = f"fsi_test_{RUN_ID}"
    await _admin(admin_db_url, f'CREATE DATABASE "{name}"')
    url = harness.with_database(admin_db_url, name)
    await migrate.migrate(url)
    yield url
    await _admin(admin_db_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def database_url(admin_db_url: str, template_database_url: str) -> AsyncIterator[str]:
    """A migrated database of this test's own (a copy of the run's template), dropped after."""
    name = f"fsi_test_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    template = template_database_url.rsplit("/", 1)[1]
    await _admin(admin_db_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield harness.with_database(admin_db_url, name)
    await _admin(admin_db_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# The logins the services and the erasure job use in the tests, members of the roles
# migrations 0009 and 0017 make (as a deployment's own logins are). Roles belong to the whole
# server, which test runs share: each is made when missing, and left for the next run.
SERVICE_LOGINS = {
    "intake": ("fsi_test_intake", "fsi_intake"),
    "router": ("fsi_test_router", "fsi_router"),
    "retention": ("fsi_test_retention", "fsi_retention"),
}

# Made when missing; a run that loses the race to another takes the other's as done.
_LOGIN = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') THEN
        BEGIN
            CREATE ROLE {login} LOGIN {password} IN ROLE {group};
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT pg_has_role('{login}', '{group}', 'MEMBER') THEN
        BEGIN
            GRANT {group} TO {login};
        EXCEPTION
            WHEN unique_violation THEN NULL;
        END;
    END IF;
END
$$
"""


def as_login(url: str, login: str) -> str:
    """The same database as another user, with the URL's password (the test server's own:
    the logins are given it, so a server that asks for passwords lets them in)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    secret = f":{parts.password}" if parts.password else ""
    return urlunsplit(parts._replace(netloc=f"{quote(login)}{secret}@{host}"))


@pytest.fixture(scope="session")
async def service_logins(admin_db_url: str, template_database_url: str) -> dict[str, str]:
    """The services' logins (service: login), made once the template's migrations made the
    roles they belong to."""
    password = unquote(urlsplit(admin_db_url).password or "")
    conn = await asyncpg.connect(admin_db_url)
    try:
        quoted = await conn.fetchval("SELECT quote_literal($1)", password)
        for login, group in SERVICE_LOGINS.values():
            given = f"PASSWORD {quoted}" if password else ""
            await conn.execute(_LOGIN.format(login=login, group=group, password=given))
    finally:
        await conn.close()
    return {service: login for service, (login, _) in SERVICE_LOGINS.items()}


@pytest.fixture
def intake_database_url(database_url: str, service_logins: dict[str, str]) -> str:
    """The test's database as the intake's login (a member of fsi_intake)."""
    return as_login(database_url, service_logins["intake"])


@pytest.fixture
def router_database_url(database_url: str, service_logins: dict[str, str]) -> str:
    """The test's database as the router's login (a member of fsi_router)."""
    return as_login(database_url, service_logins["router"])


@pytest.fixture
def retention_database_url(database_url: str, service_logins: dict[str, str]) -> str:
    """The test's database as the erasure job's login (a member of fsi_retention only)."""
    return as_login(database_url, service_logins["retention"])


@pytest.fixture(scope="session")
def pgbouncer(admin_db_url: str, service_logins: dict[str, str]) -> Iterator[harness.PgBouncer]:
    """A PgBouncer of the run's own, configured as tests/data/real_inputs/pgbouncer.ini
    (transaction pooling, as the CloudNativePG pooler and most managed offers run it), in
    front of the tests' PostgreSQL, every database reachable through it; fails with how to
    install it when it is missing."""
    try:
        running = harness.pgbouncer(
            admin_db_url, PGBOUNCER_INI, logins=list(service_logins.values())
        )
        found = running.__enter__()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield found
    finally:
        running.__exit__(None, None, None)


@pytest.fixture
async def empty_database(admin_db_url: str) -> AsyncIterator[str]:
    """A database of this test's own with nothing in it, not even the migrations."""
    name = f"fsi_empty_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    await _admin(admin_db_url, f'CREATE DATABASE "{name}"')
    yield harness.with_database(admin_db_url, name)
    await _admin(admin_db_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def amqp_url(endpoints: harness.Endpoints) -> str:
    if not harness.reachable(endpoints.amqp_url, 5672):
        pytest.fail(f"RabbitMQ is not reachable: {harness.HOW_TO_START['RabbitMQ']}")
    return endpoints.amqp_url


@pytest.fixture
async def make_topology(amqp_url: str) -> AsyncIterator[Callable[..., Topology]]:
    """Topologies under a prefix of this test's own; their queues are deleted afterwards."""
    prefix = f"t{RUN_ID}.{uuid.uuid4().hex[:8]}."
    made: list[Topology] = []

    def make(units: tuple[str, ...] = (), queue_type: QueueType = "classic") -> Topology:
        made.append(Topology(prefix=prefix, queue_type=queue_type, units=units))
        return made[-1]

    yield make
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for topo in made:
            await delete_topology(channel, topo)


@pytest.fixture(scope="session", autouse=True)
def redacting_logs() -> None:
    """Every log line the suite writes goes through the services' own redaction."""
    fsi_logging.configure(LogSettings(format="json", level="INFO"))


# --- Log capture: every line the suite logs, checked for personal data at the end ---------
#
# Every line rendered by the services' pipeline (structlog's ProcessorFormatter, whichever
# handler or stream `configure` gave it) and every line of the service processes' log files
# (tests/support/processes.py) is kept, written to artifacts/log-capture.jsonl and searched
# for identity-shaped numbers, the example reports' personal values and the tests' API keys.
# One found fails the run, naming the line.

ROOT = Path(__file__).parents[1]
LOG_CAPTURE_FILE = ROOT / "artifacts" / "log-capture.jsonl"
# Personal-data fields of the example reports (canonical and source formats), by kind.
_PERSONAL_FIELDS = {
    **dict.fromkeys(("name", "navn", "fornavn", "etternavn"), "name"),
    **dict.fromkeys(("national_id", "fodselsnummer", "fnr"), "national id"),
    **dict.fromkeys(("description", "beskrivelse", "sammendrag", "narrative"), "description"),
    **dict.fromkeys(("address", "adresse"), "address"),
    **dict.fromkeys(("phone", "telefon", "tlf"), "phone"),
}
# Any 11-digit run, whole or split 6+5 (the redaction's own shape), and 11 digits in groups
# split by single spaces (`248 690 231 20`), the latter only with valid check digits.
_ELEVEN_DIGITS = re.compile(r"(?<!\d)\d{6}[ .-]?\d{5}(?!\d)")
_SPACED_DIGITS = re.compile(r"(?<!\d)(?<!\d )\d(?: ?\d){10}(?! ?\d)")
# UUIDs (report ids) are let through, as the redaction lets them: 0.4 % end in 11 digits.
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


def _fields(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _fields(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _fields(v, key)
    elif isinstance(value, str):
        yield key, value


def personal_values() -> dict[str, str]:
    """The personal values of schemas/examples (names and their parts, national ids,
    descriptions and their first five words, addresses, phones as written, local and
    E.164), each with its kind."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "schemas" / "examples").rglob("*.json")):
        for key, raw in _fields(json.loads(path.read_text("utf-8"))):
            kind = _PERSONAL_FIELDS.get(key.lower())
            value = " ".join(raw.split())
            if kind is None or not value:
                continue
            found[value] = kind
            if kind == "name":
                found.update((part, kind) for part in value.split() if len(part) > 2)
            if kind == "description":
                found[" ".join(value.split()[:5])] = kind
            if kind == "phone":
                digits = re.sub(r"\D", "", value)
                local = digits[2:] if digits.startswith("47") and len(digits) == 10 else digits
                found.update({local: kind, "+47" + local: kind})
    return found


def _secrets() -> dict[str, str]:
    from tests.support.clients import KEYS

    dev_keys = re.findall(r"`(fsi-[a-z-]+-key-change-me)`", (ROOT / "README.md").read_text())
    return dict.fromkeys([*KEYS.values(), *dev_keys], "API key")


def forbidden_values() -> tuple[dict[str, str], re.Pattern[str]]:
    """The example reports' personal values and the tests' API keys (value: kind), and one
    pattern finding any of them as a whole word."""
    values = {**personal_values(), **_secrets()}
    words = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return values, re.compile(rf"(?<!\w)(?:{words})(?!\w)")


def _check_digits_valid(digits: str) -> bool:
    """Both check digits as python-stdnum computes them (any birth date, synthetic too)."""
    first, second = fodselsnummer.calc_check_digit1, fodselsnummer.calc_check_digit2
    return digits[9:] == first(digits) + second(digits)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    else:
        yield str(value)


def personal_data_in(line: str, forbidden: tuple[dict[str, str], re.Pattern[str]]) -> list[str]:
    """What in one log line is personal data (or a key): empty when the line is clean.
    JSON lines are searched decoded too, so escaped letters (`\\u00e5`) are seen as text."""
    text = line
    with contextlib.suppress(ValueError):
        text += "\n" + "\n".join(_strings(json.loads(line)))
    text = " ".join(text.split())
    digits_only = _UUID.sub("-", text)
    found = []
    for match in _ELEVEN_DIGITS.finditer(digits_only):
        digits = re.sub(r"\D", "", match.group())
        what = "national id (valid check digits)" if _check_digits_valid(digits) else "11 digits"
        found.append(f"{what} {match.group()!r}")
    for match in _SPACED_DIGITS.finditer(digits_only):
        if _check_digits_valid(match.group().replace(" ", "")):
            found.append(f"national id (valid check digits) {match.group()!r}")
    values, pattern = forbidden
    found += [f"{values[m.group()]} {m.group()!r}" for m in pattern.finditer(text)]
    return sorted(set(found))


class LogCapture:
    """The rendered log lines of the session, each with the test that was running."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.test = "session"
        self._lock = threading.Lock()
        self._render = structlog.stdlib.ProcessorFormatter.format

    def start(self) -> None:
        render, capture = self._render, self

        def format_and_keep(formatter: Any, record: Any) -> str:
            line = str(render(formatter, record))
            with capture._lock:
                capture.lines.extend((capture.test, one) for one in line.splitlines())
            return line

        # mypy reads the method it replaces as taking `self` twice, so a plain function never
        # matches it (`assignment`)
        structlog.stdlib.ProcessorFormatter.format = format_and_keep  # type: ignore[method-assign,assignment]

    def stop(self) -> None:
        structlog.stdlib.ProcessorFormatter.format = self._render  # type: ignore[method-assign]

    def service_lines(self) -> list[tuple[str, str]]:
        """The lines of every service process's log file (kept in pytest's tmp dirs)."""
        lines = []
        for path in dict.fromkeys(processes.LOG_FILES):
            if path.exists():
                text = path.read_text("utf-8", errors="replace")
                lines += [(str(path), one) for one in text.splitlines()]
        return lines


LOG_CAPTURE = LogCapture()
# What the check found, for the terminal summary: lines, of them from services, the leaks.
_LOG_REPORT = pytest.StashKey[tuple[int, int, list[str]]]()


@pytest.fixture(scope="session")
def log_capture() -> LogCapture:
    """The session's log capture, for tests that look at what they logged themselves."""
    return LOG_CAPTURE


def pytest_sessionstart(session: pytest.Session) -> None:
    LOG_CAPTURE.start()


def pytest_runtest_logstart(nodeid: str) -> None:
    LOG_CAPTURE.test = nodeid


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    LOG_CAPTURE.stop()
    lines = LOG_CAPTURE.lines + LOG_CAPTURE.service_lines()
    forbidden = forbidden_values()
    LOG_CAPTURE_FILE.parent.mkdir(exist_ok=True)
    leaks = []
    with LOG_CAPTURE_FILE.open("w", encoding="utf-8") as out:
        for where, line in lines:
            out.write(json.dumps({"from": where, "line": line}, ensure_ascii=False) + "\n")
            found = personal_data_in(line, forbidden)
            if found:
                leaks.append(f"{where}: {', '.join(found)}\n    {line[:600]}")
    session.config.stash[_LOG_REPORT] = (len(lines), len(lines) - len(LOG_CAPTURE.lines), leaks)
    if leaks and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if _LOG_REPORT not in config.stash:
        return
    total, from_services, leaks = config.stash[_LOG_REPORT]
    where = LOG_CAPTURE_FILE.relative_to(ROOT)
    verdict = f"FAILED: {len(leaks)} with personal data or a key" if leaks else "clean"
    terminalreporter.write_sep(
        "=",
        f"log capture: {total} lines ({from_services} from service processes) checked, "
        f"{verdict}; all in {where}",
        red=bool(leaks),
        green=not leaks,
    )
    for leak in leaks[:50]:
        terminalreporter.write_line(leak)
