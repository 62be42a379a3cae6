"""The container image, for real: built by deploy/image.sh (or reused, when one was built from
the same inputs) and run with buildah against the local PostgreSQL and RabbitMQ. fsi-migrate,
fsi-declare, the intake and the router, each from the image, as its own user and with the
rules and clients mounted where a deployment mounts them, route the example report; the
image's health checks answer; its user may write nowhere but the temporary directories.

FSI_TEST_IMAGE=<image> runs these tests against another image (one whose USER is root fails
them)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import pytest

from services.common.topology import Topology
from services.routing.main import load_rules
from services.routing.settings import RoutingSettings
from tests.conftest import as_login
from tests.integration.deploy.containers import (
    NO_BUILDAH,
    ROOT,
    Container,
    Service,
    build_image,
    have_buildah,
    image_config,
    uids,
)
from tests.integration.stack import example
from tests.support.clients import CLIENTS_YAML, auth

pytestmark = [
    pytest.mark.container,
    pytest.mark.skipif(not have_buildah(), reason=NO_BUILDAH),
    # A cold build (the base from Debian's packages, the dependencies from PyPI) comes first.
    pytest.mark.timeout(1200),
]

RULES = ROOT / "deploy" / "routing"
TRIAGE = ROOT / "deploy" / "triage"
# Where deploy/routing/rules.yaml sends the domestic-violence example.
UNIT = "trondelag.vold-naere-relasjoner"
# The router's health command, as docs/deploy.md gives it (the image's own checks the intake).
ROUTER_HEALTH = (
    "python3",
    "-c",
    "import os, urllib.request as u; u.urlopen('http://127.0.0.1:' + "
    "os.environ.get('FSI_METRICS_PORT', '9102') + '/metrics', timeout=3)",
)
# What a process of the image may write in its root file system (all mode 1777).
TMP = "/tmp"  # noqa: S108 - the container's, looked at
TEMPORARY = {TMP, "/var/tmp", "/run/lock"}  # noqa: S108
# The directories buildah makes in a container's file system for the mounts (and /etc, their
# parent, changed by it).
MOUNT_POINTS = {"/etc", "/etc/fsi", "/etc/fsi/routing", "/etc/fsi/triage", "/etc/fsi/clients"}


@pytest.fixture(scope="module")
def image() -> str:
    try:
        return build_image()
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        pytest.fail(str(exc))


@pytest.fixture
def container(image: str, tmp_path: Path) -> Iterator[Callable[[], Container]]:
    """Working containers of the image, removed (their services stopped) after the test."""
    made: list[Container] = []

    def make() -> Container:
        made.append(Container(image, tmp_path))
        return made[-1]

    yield make
    for one in made:
        one.remove()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_process_of_the_image_runs_as_its_own_user_not_root(
    image: str, container: Callable[[], Container]
) -> None:
    done = container().run("id", "-u")
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) != 0
    assert image_config(image)["User"] == "10001:10001"


def test_its_user_may_write_only_the_temporary_directories(
    container: Callable[[], Container],
) -> None:
    # find exits 1 for the directories it may not read: what it printed is the answer.
    done = container().run("find", "/", "-xdev", "-writable", "-not", "-type", "l")
    writable = set(done.stdout.split())
    assert TEMPORARY & writable, done.stderr[-2000:]
    assert writable <= TEMPORARY


# One command per process; the issue's `fsi-unit` does not exist yet.
COMMANDS = (
    "fsi-intake",
    "fsi-router",
    "fsi-migrate",
    "fsi-rules",
    "fsi-declare",
    "fsi-broker-access",
)


def test_every_command_answers_and_the_example_rules_pass_their_own_tests(
    container: Callable[[], Container],
) -> None:
    box = container()
    for command in COMMANDS:
        done = box.run(command, "--help")
        assert done.returncode == 0, f"{command}: {done.stderr[-1000:]}"
        assert done.stdout.startswith(f"usage: {command}"), done.stdout[:200]
    examples = "/usr/share/fsi/routing"
    done = box.run(
        "fsi-rules",
        "test",
        f"{examples}/rules.yaml",
        f"{examples}/rules.test.yaml",
        "--units",
        f"{examples}/units.yaml",
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_without_mounted_rules_or_clients_the_services_stop_at_start_naming_them(
    container: Callable[[], Container],
) -> None:
    # The image carries neither: a deployment that forgot them must not route by the
    # examples or start with no clients (exit 78, before PostgreSQL is asked).
    box = container()
    port = str(free_port())
    for command, setting in (
        ("fsi-intake", "FSI_ACCESS_CLIENTS_FILE"),
        ("fsi-router", "FSI_RULES_FILE"),
    ):
        done = box.run(command, env={"FSI_HTTP_PORT": port, "FSI_METRICS_PORT": port})
        assert done.returncode == 78, done.stderr[-2000:]
        assert done.stderr.startswith(f"{command}: "), done.stderr[-2000:]
        assert setting in done.stderr.splitlines()[0]


async def test_migrations_intake_and_router_from_the_image_route_the_example_report(
    image: str,
    tmp_path: Path,
    empty_database: str,
    service_logins: dict[str, str],
    amqp_url: str,
    make_topology: Callable[..., Topology],
    # Last: its services are stopped before the database and the queues are removed.
    container: Callable[[], Container],
) -> None:
    topology = make_topology(units=load_rules(RoutingSettings()).catalogue.units)
    broker = {"FSI_BROKER_URL": amqp_url, "FSI_BROKER_PREFIX": topology.prefix}
    # The rules and the clients as a deployment gives them: directories mounted read-only.
    clients = tmp_path / "clients"
    clients.mkdir(mode=0o755)
    (clients / "clients.yaml").write_text(CLIENTS_YAML, "utf-8")
    clients.chmod(0o755)  # the image's user reads it; the test's directory is root's alone
    routing = {RULES: "/etc/fsi/routing"}

    migrate = await asyncio.to_thread(
        container().run, "fsi-migrate", env={"FSI_DB_URL": empty_database}
    )
    assert migrate.returncode == 0, migrate.stderr
    declare = await asyncio.to_thread(container().run, "fsi-declare", env=broker, volumes=routing)
    assert declare.returncode == 0, declare.stderr

    http_port, metrics_port = free_port(), free_port()
    intake_box = container()
    intake = intake_box.start(
        "fsi-intake",
        env={
            **broker,
            "FSI_DB_URL": as_login(empty_database, service_logins["intake"]),
            "FSI_HTTP_HOST": "127.0.0.1",
            "FSI_HTTP_PORT": str(http_port),
            "FSI_RELAY_POLL_SECONDS": "0.2",
            "FSI_STANDARDISE_ACCEPT_SYNTHETIC_IDS": "true",
        },
        # The router's rules and the closure grounds: the intake decides with them too.
        volumes={clients: "/etc/fsi/clients", **routing, TRIAGE: "/etc/fsi/triage"},
    )
    router_box = container()
    router = router_box.start(
        "fsi-router",
        env={
            **broker,
            "FSI_DB_URL": as_login(empty_database, service_logins["router"]),
            "FSI_METRICS_HOST": "127.0.0.1",
            "FSI_METRICS_PORT": str(metrics_port),
        },
        volumes=routing,
    )
    base = f"http://127.0.0.1:{http_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        await _until_up(client, intake, router)
        # The signed-out page: a template and static files of the wheel, read in the image.
        page = await client.get("/ops/signed-out")
        assert page.status_code == 200, page.text
        assert "/ops/static/" in page.text
        answer = await client.post(
            "/v1/reports", json=example("domestic-violence"), headers=auth("alpha")
        )
        assert answer.status_code == 202, answer.text
        report_id = answer.json()["report_id"]
        view = await _until_routed(client, report_id, intake, router)
    assert view["decision"]["unit"] == UNIT
    assert await _in_queue(amqp_url, topology.unit_queue(UNIT).name) == [report_id]

    # Each service process, seen from the host: not root, in any of its uids.
    for service in (intake, router):
        found = uids(service.pid())
        assert 0 not in found, f"{service.command} runs as root: uids {found}"
        assert len(set(found)) == 1, found

    # The image's health check (the intake's), the router's documented one, and the first
    # failing where nothing answers.
    health = image_config(image)["Healthcheck"]["Test"]
    assert health[0] == "CMD"
    checks = {
        "intake": (health[1:], {"FSI_HTTP_PORT": str(http_port)}, 0),
        "router": (list(ROUTER_HEALTH), {"FSI_METRICS_PORT": str(metrics_port)}, 0),
        "nothing": (health[1:], {"FSI_HTTP_PORT": str(free_port())}, 1),
    }
    for name, (command, env, expected) in checks.items():
        done = await asyncio.to_thread(router_box.run, *command, env=env)
        assert done.returncode == expected, f"{name}: {done.stderr[-1000:]}"

    # A TERM reaches each service inside its container, which stops as it should.
    for service, said in ((intake, "intake stopped"), (router, "router stopped")):
        assert await asyncio.to_thread(service.stop), service.output[-3000:]
        assert f'"event": "{said}"' in service.output, service.output[-3000:]

    # What they wrote in their containers' file systems: nothing but in /tmp (the mount
    # points are buildah's), so the root file system may be read-only.
    for box in (intake_box, router_box):
        written = {path for path in box.changed() if not path.startswith(f"{TMP}/")}
        assert written <= MOUNT_POINTS | {TMP}, written


async def _until_up(client: httpx.AsyncClient, *services: Service) -> None:
    for _ in range(300):
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/healthz")).status_code == 200:
                return
        for service in services:
            assert service.runner.poll() is None, f"{service.command} ended:\n{service.output}"
        await asyncio.sleep(0.1)
    raise AssertionError("the intake did not answer:\n" + "\n".join(s.output for s in services))


async def _until_routed(
    client: httpx.AsyncClient, report_id: str, *services: Service
) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for _ in range(300):
        answer = await client.get(f"/v1/reports/{report_id}", headers=auth("alpha"))
        view = answer.json()
        if view.get("status") == "routed":
            return view
        await asyncio.sleep(0.1)
    outputs = "\n---\n".join(s.output[-3000:] for s in services)
    raise AssertionError(f"not routed in 30 s: {view.get('status')}\n{outputs}")


async def _in_queue(amqp_url: str, name: str) -> list[str]:
    """The message ids in a queue (taken off it)."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(name)
        found = []
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            found.append(str(message.message_id))
        return found
