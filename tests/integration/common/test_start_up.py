"""The installed commands as an operator meets them: `--help` prints help and does nothing
else; what stops a start is one line naming the setting and the host and port (never a
password), no traceback, and an exit code a supervisor can act on; `fsi-declare` declares
every queue the unit catalogue names; `make run` prints the names under the prefix in use."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import aio_pika
import pytest

from schemas import reference
from services.common.topology import Topology
from services.routing.reading import read_file
from services.routing.rules import load_catalogue
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
        name, FSI_DB_URL=database_url, FSI_BROKER_URL=down_broker, FSI_METRICS_ENABLED="false"
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
        name, FSI_DB_URL=database_url, FSI_BROKER_URL=wrong, FSI_METRICS_ENABLED="false"
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
        FSI_DB_URL=database_url,
        FSI_BROKER_URL=amqp_url,
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
    assert len(topo.queues) == 3 + len(units) > 90


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
    said = []
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
