"""The installed commands as an operator meets them: `--help` prints help and does nothing
else; what stops a start is one line naming the setting and the host and port (never a
password), in words (no traceback, no exception class), and an exit code a supervisor can act
on: PostgreSQL or RabbitMQ out of reach, a port to listen on in use or not of this machine, a
URL's port that is no TCP port; `fsi-declare` declares every queue the unit catalogue names;
`make run` prints the names under the prefix in use."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aio_pika
import pytest

from schemas import reference
from services.common.rules.reading import read_file
from services.common.rules.units import load_catalogue
from services.common.topology import Topology
from tests.support.broker_inputs import Answer, closed_port, command, environment, run_script

ROOT = Path(__file__).parents[3]
SECRET = "hunter2-Secret"
COMMANDS = ["fsi-intake", "fsi-router", "fsi-migrate", "fsi-declare"]
# The exit codes of sysexits.h the commands use (services/common/startup.py).
EXIT_UNAVAILABLE, EXIT_TOPOLOGY, EXIT_CONFIG = 69, 76, 78
UNITS_FILE = ROOT / "deploy" / "routing" / "units.yaml"


def catalogue_units() -> tuple[str, ...]:
    """Every unit of the default catalogue."""
    return load_catalogue(read_file(UNITS_FILE), str(UNITS_FILE), reference.load()).units


def one_line(answer: Answer) -> str:
    """The one line a command said, checked for what must never be in it."""
    assert len(answer.lines) == 1, answer.lines
    line = answer.lines[0]
    assert "Traceback" not in line
    assert SECRET not in line
    return line


@pytest.fixture
def down_db() -> str:
    return f"postgresql://fsi:{SECRET}@127.0.0.1:{closed_port()}/fsi"


@pytest.fixture
def down_broker() -> str:
    return f"amqp://fsi:{SECRET}@127.0.0.1:{closed_port()}/"


@pytest.mark.parametrize("name", [*COMMANDS, "python -m services.intake.access"])
async def test_help_prints_help_and_does_nothing_else(
    name: str, down_db: str, down_broker: str, make_topology: Callable[..., Topology]
) -> None:
    topo = make_topology()
    settings = {
        "FSI_DB_URL": down_db,
        "FSI_BROKER_URL": down_broker,
        "FSI_BROKER_PREFIX": topo.prefix,
        "FSI_ACCESS_CLIENTS_FILE": str(ROOT / "deploy" / "clients.dev.yaml"),
        "FSI_ENVIRONMENT": "development",
    }
    if name.startswith("python"):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.intake.access",
            "--help",
            env=environment(**settings),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 30)
        answer = Answer(process.returncode or 0, out.decode(), err.decode())
    else:
        answer = await command(name, "--help", within=30, **settings)
    assert answer.code == 0
    assert answer.out.startswith("usage:")
    assert answer.err == ""


async def test_help_of_fsi_declare_declares_nothing(
    amqp_url: str, make_topology: Callable[..., Topology]
) -> None:
    topo = make_topology()
    answer = await command(
        "fsi-declare", "--help", FSI_BROKER_URL=amqp_url, FSI_BROKER_PREFIX=topo.prefix
    )
    assert answer.code == 0
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        with pytest.raises(aio_pika.exceptions.ChannelNotFoundEntity):
            await channel.declare_queue(topo.routing_queue.name, passive=True)


@pytest.mark.parametrize("name", ["fsi-intake", "fsi-router", "fsi-migrate"])
async def test_postgresql_out_of_reach_is_one_line_with_setting_host_and_port(
    name: str, down_db: str, amqp_url: str, make_topology: Callable[..., Topology]
) -> None:
    answer = await command(
        name,
        FSI_DB_URL=down_db,
        FSI_BROKER_URL=amqp_url,
        FSI_BROKER_PREFIX=make_topology().prefix,
        FSI_ACCESS_CLIENTS_FILE=str(ROOT / "deploy" / "clients.dev.yaml"),
        FSI_ENVIRONMENT="development",
        FSI_METRICS_ENABLED="false",
    )
    line = one_line(answer)
    port = down_db.rsplit(":", 1)[1].split("/")[0]
    assert f"127.0.0.1:{port}" in line
    assert "FSI_DB_URL" in line
    assert answer.code == EXIT_UNAVAILABLE, line


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1].split("/")[0]


@pytest.mark.parametrize("name", ["fsi-router", "fsi-declare"])
async def test_rabbitmq_out_of_reach_is_one_line_with_setting_host_and_port(
    name: str, database_url: str, down_broker: str
) -> None:
    answer = await command(
        name,
        FSI_DB_URL=database_url,
        FSI_BROKER_URL=down_broker,
        FSI_ENVIRONMENT="development",
        FSI_METRICS_ENABLED="false",
    )
    line = one_line(answer)
    assert line == (
        f"{name}: cannot reach RabbitMQ at 127.0.0.1:{_port(down_broker)} (FSI_BROKER_URL): "
        "connection refused"
    )
    assert answer.code == EXIT_UNAVAILABLE


@pytest.mark.parametrize("name", ["fsi-router", "fsi-declare"])
async def test_a_wrong_rabbitmq_password_is_named_and_never_shown(
    name: str, database_url: str, amqp_url: str
) -> None:
    wrong = amqp_url.replace("guest:guest@", f"guest:{SECRET}@")
    answer = await command(
        name,
        FSI_DB_URL=database_url,
        FSI_BROKER_URL=wrong,
        FSI_ENVIRONMENT="development",
        FSI_METRICS_ENABLED="false",
    )
    line = one_line(answer)
    assert "refused the login" in line
    assert "FSI_BROKER_URL" in line
    assert answer.code == EXIT_CONFIG


@pytest.mark.parametrize("name", ["fsi-intake", "fsi-router", "fsi-declare"])
async def test_a_url_that_is_not_amqp_is_named(name: str, database_url: str) -> None:
    answer = await command(
        name,
        FSI_DB_URL=database_url,
        FSI_BROKER_URL=f"http://fsi:{SECRET}@127.0.0.1:5672/",
        FSI_ACCESS_CLIENTS_FILE=str(ROOT / "deploy" / "clients.dev.yaml"),
        FSI_ENVIRONMENT="development",
        FSI_METRICS_ENABLED="false",
    )
    assert one_line(answer) == (
        f"{name}: FSI_BROKER_URL is not a RabbitMQ URL (amqp://user:password@host:5672/vhost)"
    )
    assert answer.code == EXIT_CONFIG


@pytest.mark.parametrize(
    ("name", "setting"),
    [
        ("fsi-router", "FSI_RULES_FILE"),
        ("fsi-router", "FSI_RULES_UNITS_FILE"),
        ("fsi-declare", "FSI_RULES_UNITS_FILE"),
    ],
)
async def test_a_missing_rules_file_is_named_with_its_setting(
    name: str, setting: str, database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.yaml"
    answer = await command(
        name,
        within=60,  # named, so mypy knows the unpacked settings hold no `within`
        FSI_DB_URL=database_url,
        FSI_BROKER_URL=amqp_url,
        FSI_ENVIRONMENT="development",
        FSI_METRICS_ENABLED="false",
        **{setting: str(missing)},
    )
    assert (
        one_line(answer) == f"{name}: {setting}: cannot read {missing}: No such file or directory"
    )
    assert answer.code == EXIT_CONFIG


@pytest.mark.parametrize("name", ["fsi-router", "fsi-declare"])
async def test_a_precreated_routing_queue_stops_the_start_naming_queue_and_argument(
    name: str, database_url: str, amqp_url: str, make_topology: Callable[..., Topology]
) -> None:
    topo = make_topology()
    run_script("precreate-routing-queue", amqp_url, topo.prefix)
    answer = await command(
        name,
        FSI_DB_URL=database_url,
        FSI_BROKER_URL=amqp_url,
        FSI_BROKER_PREFIX=topo.prefix,
        FSI_ENVIRONMENT="development",
        FSI_METRICS_ENABLED="false",
    )
    line = one_line(answer)
    assert (
        f"queue '{topo.routing_queue.name}': the broker has x-dead-letter-exchange = none, "
        f"we declare x-dead-letter-exchange = '{topo.dead_letter_exchange.name}'"
    ) in line
    assert answer.code == EXIT_TOPOLOGY


async def test_fsi_declare_declares_every_queue_of_the_catalogue(
    amqp_url: str, make_topology: Callable[..., Topology]
) -> None:
    units = catalogue_units()
    topo = make_topology(units=units)  # deleted afterwards, unit queues too
    answer = await command("fsi-declare", FSI_BROKER_URL=amqp_url, FSI_BROKER_PREFIX=topo.prefix)
    assert answer.code == 0, answer.err
    assert f"and {len(units)} unit queues" in answer.out
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in topo.queues:
            await channel.declare_queue(queue.name, passive=True)  # raises when missing
    # The routing and decisions queues, triage, dead letters, case events, and one per unit;
    # the message names each queue that is no unit's.
    assert len(topo.queues) == 5 + len(units) > 90
    for name in ("routing.reports", "routing.decisions", "routing.case-events", "triage"):
        assert f"{topo.prefix}{name}" in answer.out, answer.out


async def test_the_intake_starts_without_rabbitmq_and_names_where_it_looked(
    database_url: str, down_broker: str, tmp_path: Path
) -> None:
    port = closed_port()
    log_file = tmp_path / "intake.log"
    with log_file.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "fsi-intake"),
            env=environment(
                FSI_DB_URL=database_url,
                FSI_BROKER_URL=down_broker,
                FSI_HTTP_PORT=str(port),
                FSI_ACCESS_CLIENTS_FILE=str(ROOT / "deploy" / "clients.dev.yaml"),
                FSI_ENVIRONMENT="development",
            ),
            stdout=out,
            stderr=out,
        )
        try:
            for _ in range(200):
                text = log_file.read_text("utf-8")
                if "broker unavailable" in text:
                    break
                await asyncio.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)
    lines = [line for line in text.splitlines() if "broker unavailable" in line]
    assert len(lines) == 1, text
    assert f"cannot reach RabbitMQ at 127.0.0.1:{_port(down_broker)} (FSI_BROKER_URL)" in lines[0]
    assert SECRET not in text
    assert "Traceback" not in text
    assert "error when creating transport" not in text


async def test_make_run_prints_the_queue_names_under_the_prefix_in_use(
    database_url: str, amqp_url: str, make_topology: Callable[..., Topology]
) -> None:
    topo = make_topology(units=catalogue_units())
    process = await asyncio.create_subprocess_exec(
        "bash",
        str(ROOT / "deploy" / "run-local.sh"),
        env=environment(
            FSI_DB_URL=database_url,
            FSI_BROKER_URL=amqp_url,
            FSI_BROKER_PREFIX=topo.prefix,
            FSI_HTTP_PORT=str(closed_port()),
            FSI_METRICS_ENABLED="false",
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its router and intake go with it
    )
    said: list[str] = []
    try:
        assert process.stdout is not None
        while not any("sends it to the unit queue" in line for line in said):
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            assert line, said
            said.append(line.decode())
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    (named,) = [line for line in said if "sends it to the unit queue" in line]
    assert f"{topo.prefix}unit.trondelag.vold-naere-relasjoner" in named
    assert "fsi.unit." not in named


# --- what a process listens on, and URLs whose port or host cannot work ------------------

# A class name such as ConnectionError or OverflowError, or Python's "[Errno 98]".
CLASS_NAME = re.compile(r"[A-Za-z]+(?:Error|Exception)\b|\[Errno")


def plain(answer: Answer) -> str:
    """The one line, in words: no exception class name, no errno in brackets."""
    line = one_line(answer)
    assert not CLASS_NAME.search(line), line
    return line


async def ends(name: str, within: float = 60, **settings: str) -> Answer:
    """Run an installed command to its end; one still running after `within` seconds (it
    started although it should not have) is stopped, and its answer has the code -1."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / name),
        env=environment(**settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        out, err = await process.communicate()
        return Answer(-1, out.decode(), err.decode())
    return Answer(process.returncode or 0, out.decode(), err.decode())


@contextlib.contextmanager
def port_held(host: str = "127.0.0.1") -> Iterator[int]:
    """A loopback port another process's socket listens on (bound on `host`)."""
    with socket.socket() as holder:
        holder.bind((host, 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize(
    ("name", "setting", "held_on"),
    [
        ("fsi-intake", "FSI_HTTP_PORT", "127.0.0.1"),
        # Held on every address: 127.0.0.1 is among them.
        ("fsi-intake", "FSI_HTTP_PORT", "0.0.0.0"),  # noqa: S104 - a test's own socket
        ("fsi-router", "FSI_METRICS_PORT", "127.0.0.1"),
    ],
)
async def test_a_port_in_use_stops_the_start_in_one_line(
    name: str,
    setting: str,
    held_on: str,
    database_url: str,
    amqp_url: str,
    make_topology: Callable[..., Topology],
) -> None:
    topo = make_topology(units=catalogue_units())  # whatever a router declares is removed
    with port_held(held_on) as port:
        answer = await ends(
            name,
            within=60,
            FSI_DB_URL=database_url,
            FSI_BROKER_URL=amqp_url,
            FSI_BROKER_PREFIX=topo.prefix,
            FSI_ACCESS_CLIENTS_FILE=str(ROOT / "deploy" / "clients.dev.yaml"),
            FSI_ENVIRONMENT="development",
            **{setting: str(port)},
        )
    assert plain(answer) == (
        f"{name}: {setting}: 127.0.0.1:{port} is in use (another process listens there)"
    )
    assert answer.code == EXIT_UNAVAILABLE


@pytest.mark.parametrize(
    ("name", "setting", "value", "says"),
    [
        # 203.0.113.0/24 is TEST-NET-3 (RFC 5737): no machine's own address.
        (
            "fsi-intake",
            "FSI_HTTP_HOST",
            "203.0.113.9",
            "203.0.113.9 is not an address of this machine",
        ),
        (
            "fsi-router",
            "FSI_METRICS_HOST",
            "203.0.113.9",
            "203.0.113.9 is not an address of this machine",
        ),
        # .invalid never resolves (RFC 6761 section 6.4).
        ("fsi-intake", "FSI_HTTP_HOST", "intake.invalid", "host name 'intake.invalid' not found"),
        (
            "fsi-router",
            "FSI_METRICS_HOST",
            "router.invalid",
            "host name 'router.invalid' not found",
        ),
    ],
)
async def test_an_address_to_listen_on_that_cannot_be_had_is_a_setting_error(
    name: str,
    setting: str,
    value: str,
    says: str,
    database_url: str,
    amqp_url: str,
    make_topology: Callable[..., Topology],
) -> None:
    topo = make_topology(units=catalogue_units())
    answer = await ends(
        name,
        within=60,
        FSI_DB_URL=database_url,
        FSI_BROKER_URL=amqp_url,
        FSI_BROKER_PREFIX=topo.prefix,
        FSI_ACCESS_CLIENTS_FILE=str(ROOT / "deploy" / "clients.dev.yaml"),
        FSI_ENVIRONMENT="development",
        FSI_HTTP_PORT=str(closed_port()),
        FSI_METRICS_PORT=str(closed_port()),
        **{setting: value},
    )
    assert plain(answer) == f"{name}: {setting}: {says}"
    assert answer.code == EXIT_CONFIG


def _with_port(url: str, port: str) -> str:
    """The URL with its host's port replaced by `port` as written."""
    at = url.index("@") + 1
    host_end = url.index("/", at)
    host = url[at:host_end].rsplit(":", 1)[0]
    return f"{url[:at]}{host}:{port}{url[host_end:]}"


@pytest.mark.parametrize(
    ("name", "setting", "port"),
    [
        # The new user's: a port past 65535 (TCP ports are 16 bits, RFC 9293 section 3.1).
        ("fsi-intake", "FSI_DB_URL", "99999"),
        ("fsi-router", "FSI_DB_URL", "99999"),
        ("fsi-migrate", "FSI_DB_URL", "99999"),
        ("fsi-migrate", "FSI_DB_URL", "0"),
        ("fsi-migrate", "FSI_DB_URL", "54x2"),
        ("fsi-intake", "FSI_DB_DIRECT_URL", "65536"),
        ("fsi-router", "FSI_BROKER_URL", "99999"),
        # aio-pika read port 0 as 5672 and declared on the default port.
        ("fsi-declare", "FSI_BROKER_URL", "0"),
        ("fsi-intake", "FSI_BROKER_URL", "-1"),
    ],
)
async def test_a_port_that_is_no_tcp_port_is_a_setting_error_quoting_it(
    name: str,
    setting: str,
    port: str,
    database_url: str,
    amqp_url: str,
    make_topology: Callable[..., Topology],
) -> None:
    topo = make_topology(units=catalogue_units())
    settings = {"FSI_DB_URL": database_url, "FSI_BROKER_URL": amqp_url}
    settings[setting] = _with_port(settings.get(setting, database_url), port)
    host = settings[setting].partition("@")[2].split("/", 1)[0]
    answer = await ends(
        name,
        within=60,
        FSI_BROKER_PREFIX=topo.prefix,
        FSI_ACCESS_CLIENTS_FILE=str(ROOT / "deploy" / "clients.dev.yaml"),
        FSI_ENVIRONMENT="development",
        FSI_METRICS_ENABLED="false",
        FSI_HTTP_PORT=str(closed_port()),
        **settings,
    )
    assert plain(answer) == (
        f"{name}: {setting}: port '{port}' of {host} is not a TCP port (a number from 1 to 65535)"
    )
    assert answer.code == EXIT_CONFIG


async def test_a_management_url_with_no_tcp_port_stops_the_intake(database_url: str) -> None:
    answer = await ends(
        "fsi-intake",
        FSI_DB_URL=database_url,
        FSI_ACCESS_CLIENTS_FILE=str(ROOT / "deploy" / "clients.dev.yaml"),
        FSI_ENVIRONMENT="development",
        FSI_OPS_MANAGEMENT_URL=f"http://guest:{SECRET}@127.0.0.1:156720",
    )
    assert plain(answer) == (
        "fsi-intake: FSI_OPS_MANAGEMENT_URL: port '156720' of 127.0.0.1:156720 is not a TCP "
        "port (a number from 1 to 65535)"
    )
    assert answer.code == EXIT_CONFIG


# TCP connects to unicast addresses only (RFC 9293 section 3.9.1.1 refuses a multicast
# foreign socket): Linux answers at once that no route leads there (ENETUNREACH).
UNROUTABLE = "224.0.0.1"


@pytest.mark.parametrize("name", ["fsi-intake", "fsi-router", "fsi-migrate"])
async def test_an_unroutable_database_host_is_said_plainly(
    name: str, amqp_url: str, make_topology: Callable[..., Topology]
) -> None:
    answer = await ends(
        name,
        FSI_DB_URL=f"postgresql://fsi:{SECRET}@{UNROUTABLE}:5432/fsi",
        FSI_BROKER_URL=amqp_url,
        FSI_BROKER_PREFIX=make_topology().prefix,
        FSI_ACCESS_CLIENTS_FILE=str(ROOT / "deploy" / "clients.dev.yaml"),
        FSI_ENVIRONMENT="development",
        FSI_METRICS_ENABLED="false",
    )
    assert plain(answer) == (
        f"{name}: cannot reach PostgreSQL at {UNROUTABLE}:5432 (FSI_DB_URL): network is unreachable"
    )
    assert answer.code == EXIT_UNAVAILABLE


@pytest.mark.parametrize("name", ["fsi-router", "fsi-declare"])
async def test_an_unroutable_broker_host_is_said_plainly(name: str, database_url: str) -> None:
    answer = await ends(
        name,
        FSI_DB_URL=database_url,
        FSI_BROKER_URL=f"amqp://fsi:{SECRET}@{UNROUTABLE}:5672/",
        FSI_ENVIRONMENT="development",
        FSI_METRICS_ENABLED="false",
    )
    assert plain(answer) == (
        f"{name}: cannot reach RabbitMQ at {UNROUTABLE}:5672 (FSI_BROKER_URL): "
        "network is unreachable"
    )
    assert answer.code == EXIT_UNAVAILABLE


@contextlib.asynccontextmanager
async def closing_at_once() -> AsyncIterator[int]:
    """A loopback port where something takes each connection and closes it unanswered (as a
    proxy or firewall in front of an unreachable host may)."""

    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(close, "127.0.0.1", 0)
    async with server:
        yield int(server.sockets[0].getsockname()[1])


def _db_at(port: int) -> str:
    return f"postgresql://fsi:{SECRET}@127.0.0.1:{port}/fsi"


def _broker_at(port: int) -> str:
    return f"amqp://fsi:{SECRET}@127.0.0.1:{port}/"


@pytest.mark.parametrize("name", ["fsi-intake", "fsi-migrate"])
async def test_a_database_url_where_no_postgresql_answers_is_said_plainly(
    name: str, amqp_url: str
) -> None:
    async with closing_at_once() as closing:
        # Something closing at once, and RabbitMQ's own port (a URL given the wrong port).
        for port in (closing, int(_port(amqp_url))):
            answer = await ends(
                name,
                FSI_DB_URL=_db_at(port),
                FSI_ACCESS_CLIENTS_FILE=str(ROOT / "deploy" / "clients.dev.yaml"),
                FSI_ENVIRONMENT="development",
            )
            assert plain(answer) == (
                f"{name}: cannot reach PostgreSQL at 127.0.0.1:{port} (FSI_DB_URL): the "
                "connection was closed before PostgreSQL answered (check the host and port)"
            )
            assert answer.code == EXIT_UNAVAILABLE


@pytest.mark.parametrize("name", ["fsi-router", "fsi-declare"])
async def test_a_broker_url_where_no_rabbitmq_answers_is_said_plainly(
    name: str, database_url: str
) -> None:
    async with closing_at_once() as closing:
        # Something closing at once, and PostgreSQL's own port.
        for port in (closing, int(_port(database_url))):
            answer = await ends(
                name,
                FSI_DB_URL=database_url,
                FSI_BROKER_URL=_broker_at(port),
                FSI_ENVIRONMENT="development",
                FSI_METRICS_ENABLED="false",
            )
            assert plain(answer) == (
                f"{name}: cannot reach RabbitMQ at 127.0.0.1:{port} (FSI_BROKER_URL): the "
                "connection was closed before RabbitMQ answered (check the host and port)"
            )
            assert answer.code == EXIT_UNAVAILABLE


@pytest.mark.parametrize(
    ("url", "says", "code"),
    [
        (
            f"postgresql://fsi:{SECRET}@127.0.0.1:99999/fsi",
            "FSI_DB_URL: port '99999' of 127.0.0.1:99999 is not a TCP port (a number from 1 "
            "to 65535)",
            2,  # bad input, as the command's other settings
        ),
        (
            f"postgresql://fsi:{SECRET}@{UNROUTABLE}:5432/fsi",
            f"cannot reach PostgreSQL at {UNROUTABLE}:5432 (FSI_DB_URL): network is unreachable",
            1,
        ),
    ],
)
async def test_the_outbox_command_says_the_same_in_words(url: str, says: str, code: int) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.intake.outbox_cli",
        "list",
        env=environment(FSI_DB_URL=url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    answer = Answer(process.returncode or 0, out.decode(), err.decode())
    assert plain(answer) == f"error: {says}"
    assert answer.code == code
