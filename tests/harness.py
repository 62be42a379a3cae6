"""Where the tests' PostgreSQL and RabbitMQ come from: testcontainers, or the local services."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"

HOW_TO_START = {
    "PostgreSQL": (
        "start the local one with `pg_ctlcluster --skip-systemctl-redirect "
        "$(ls /etc/postgresql) main start`, or point FSI_TEST_DATABASE_URL at one"
    ),
    "RabbitMQ": (
        "start the local one with `rabbitmq-server -detached`, or point FSI_TEST_AMQP_URL at one"
    ),
}


def _run(*command: str, timeout: float = 120) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=timeout)  # noqa: S603


def _restart_local_database() -> None:
    """A real restart of the local cluster (fast shutdown: connections are cut)."""
    version = sorted(os.listdir("/etc/postgresql"))[0]
    _run("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast")


def _restart_local_broker() -> None:
    """A real restart of the local RabbitMQ node: stopped, then started again."""
    try:
        _run("rabbitmqctl", "stop")
    finally:
        # Started again even when stopping failed half-way; never left down.
        subprocess.run(["rabbitmq-server", "-detached"], check=False, capture_output=True)  # noqa: S607
        _await_broker()


def _await_broker(seconds: float = 120) -> None:
    # `await_startup` fails at once while the detached node is still spawning: ask again.
    deadline = time.monotonic() + seconds
    while True:
        answer = subprocess.run(
            ["rabbitmqctl", "await_startup", "--timeout", "10"],  # noqa: S607
            check=False,
            capture_output=True,
            timeout=30,
        )
        if answer.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"RabbitMQ did not start again: {answer.stderr.decode()[-500:]}")
        time.sleep(1)


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Admin URLs of the services the integration tests use, and how to restart them."""

    database_url: str
    amqp_url: str
    origin: str
    restart_database: Callable[[], None] = _restart_local_database
    restart_broker: Callable[[], None] = _restart_local_broker


def docker_answers() -> bool:
    """True when a Docker engine is reachable (then testcontainers is used)."""
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:
        return False


def reachable(url: str, default_port: int) -> bool:
    """True when something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 3
        ):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def endpoints() -> Iterator[Endpoints]:
    """Containers when Docker answers and no URLs are given; else the local services."""
    given = "FSI_TEST_DATABASE_URL" in os.environ or "FSI_TEST_AMQP_URL" in os.environ
    if not given and docker_answers():
        from testcontainers.postgres import PostgresContainer
        from testcontainers.rabbitmq import RabbitMqContainer

        with (
            PostgresContainer("postgres:17-alpine", driver=None) as pg,
            RabbitMqContainer("rabbitmq:4.0-alpine") as mq,
        ):
            amqp = (
                f"amqp://{mq.username}:{mq.password}@{mq.get_container_host_ip()}:"
                f"{mq.get_exposed_port(mq.port)}/"
            )
            yield Endpoints(
                pg.get_connection_url(),
                amqp,
                "testcontainers",
                restart_database=pg.get_wrapped_container().restart,
                restart_broker=mq.get_wrapped_container().restart,
            )
        return
    yield Endpoints(
        os.environ.get("FSI_TEST_DATABASE_URL", DEFAULT_DATABASE_URL),
        os.environ.get("FSI_TEST_AMQP_URL", DEFAULT_AMQP_URL),
        "local services",
    )


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))
