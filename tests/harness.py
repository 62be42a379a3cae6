"""Where the tests' PostgreSQL and RabbitMQ come from (testcontainers, or the local services),
and a PgBouncer of their own in front of that PostgreSQL."""

from __future__ import annotations

import configparser
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from tests.support.processes import end

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
    "PgBouncer": "install Debian's with `apt-get install -y pgbouncer` (`make services` does)",
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
        import docker

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


@dataclass(frozen=True, slots=True)
class PgBouncer:
    """A running PgBouncer: every database of the server it fronts, on its own port."""

    port: int
    server_url: str
    log_file: Path

    def url(self, database: str) -> str:
        """The server URL's user and password, through PgBouncer, to `database`."""
        parts = urlsplit(self.server_url)
        auth = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit(
            parts._replace(netloc=f"{auth}127.0.0.1:{self.port}", path=f"/{database}")
        )

    def log(self) -> str:
        return self.log_file.read_text("utf-8", errors="replace") if self.log_file.exists() else ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@contextlib.contextmanager
def pgbouncer(server_url: str, template: Path, logins: Sequence[str] = ()) -> Iterator[PgBouncer]:
    """Debian's PgBouncer in front of the server of `server_url`, configured as the ini file
    `template` says (its pool mode, pool sizes, ...), but on a free loopback port, with every
    database of that server, and its files in a temporary directory; stopped afterwards.
    Clients are trusted; PgBouncer logs in with the URL's user and password, or as one of
    `logins` (with the same password) for a client that names it."""
    binary = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/bin")
    if binary is None:
        raise RuntimeError(f"PgBouncer is not installed: {HOW_TO_START['PgBouncer']}")
    parts = urlsplit(server_url)
    user, password = unquote(parts.username or "postgres"), unquote(parts.password or "")
    port = _free_port()
    config = configparser.ConfigParser(interpolation=None)
    config.read(template, encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="fsi-pgbouncer-") as directory:
        here = Path(directory)
        users = "".join(f"{_quoted(name)} {_quoted(password)}\n" for name in (user, *logins))
        (here / "users.txt").write_text(users, "utf-8")
        config["databases"] = {
            "*": f"host={parts.hostname or '127.0.0.1'} port={parts.port or 5432}"
        }
        config["pgbouncer"].update(
            listen_addr="127.0.0.1",
            listen_port=str(port),
            unix_socket_dir="",
            auth_type="trust",
            auth_file=str(here / "users.txt"),
            logfile="",  # its output goes to the log file below
            pidfile="",
        )
        with (here / "pgbouncer.ini").open("w", encoding="utf-8") as ini:
            config.write(ini)
        log_file = here / "pgbouncer.log"
        command = [binary, str(here / "pgbouncer.ini")]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root; it reads its files first, then drops to this.
            command[1:1] = ["-u", "postgres" if _user_exists("postgres") else "nobody"]
        with log_file.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=out)  # noqa: S603
        running = PgBouncer(port, server_url, log_file)
        try:
            _await_port(port, process, running)
            yield running
        finally:
            end(process)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _await_port(port: int, process: subprocess.Popen[bytes], running: PgBouncer) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"PgBouncer exited at start:\n{running.log()[-2000:]}")
        if reachable(f"tcp://127.0.0.1:{port}", port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"PgBouncer did not listen on 127.0.0.1:{port}:\n{running.log()[-2000:]}")
