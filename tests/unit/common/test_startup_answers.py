"""Start-up lines in plain words: a URL's port that is no TCP port is a setting error quoting
it, a connection that failed says why as the operating system or the wire did (never an
exception's class name), and an address that cannot be listened on names its setting."""

from __future__ import annotations

import errno
import re
import socket

import aiormq
import asyncpg
import pytest

from services.common.broker import broker_error, check_url
from services.common.db import database_error
from services.common.startup import (
    EXIT_CONFIG,
    EXIT_UNAVAILABLE,
    StartupError,
    listen,
    listen_error,
    port_problem,
    unreachable,
)

SECRET = "s3cr3t-Passw0rd"
# A class name such as ConnectionError or OverflowError, or Python's "[Errno 113]".
CLASS_NAME = re.compile(r"[A-Za-z]+(?:Error|Exception)\b|\[Errno")
NOT_A_PORT = "is not a TCP port (a number from 1 to 65535)"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        # TCP ports are 16-bit numbers, and 0 is no destination (RFC 9293 section 3.1).
        (f"postgresql://fsi:{SECRET}@127.0.0.1:99999/fsi", "port '99999' of 127.0.0.1:99999"),
        (f"postgresql://fsi:{SECRET}@db:0/fsi", "port '0' of db:0"),
        (f"postgresql://fsi:{SECRET}@db:65536/fsi", "port '65536' of db:65536"),
        (f"postgresql://fsi:{SECRET}@db:5432x/fsi", "port '5432x' of db:5432x"),
        (f"postgresql://fsi:{SECRET}@db:/fsi", "port '' of db:"),
        # Digits of another script are no port either.
        (f"postgresql://fsi:{SECRET}@db:٥٤٣٢/fsi", "port '٥٤٣٢' of db:٥٤٣٢"),
        (f"postgresql://fsi:{SECRET}@a:5432,b:70000/fsi", "port '70000' of b:70000"),
        (f"postgresql://fsi:{SECRET}@[::1]:99999/fsi", "port '99999' of [::1]:99999"),
        ("postgresql:///fsi?host=/run/postgresql&port=99999", "port '99999' of port=99999"),
        (f"amqp://guest:{SECRET}@mq:-1/", "port '-1' of mq:-1"),
    ],
)
def test_a_port_that_is_no_tcp_port_is_named_as_written(url: str, says: str) -> None:
    assert port_problem(url) == f"{says} {NOT_A_PORT}"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://fsi:{SECRET}@db:1/fsi",
        f"postgresql://fsi:{SECRET}@db:65535/fsi",
        f"postgresql://fsi:{SECRET}@db/fsi",
        f"postgresql://fsi:{SECRET}@[::1]/fsi",
        f"postgresql://fsi:{SECRET}@a:5433,b/fsi",
        "postgresql:///fsi?host=/run/postgresql",
        # A password with a colon and digits is not a port.
        "amqp://guest:99999@mq/",
    ],
)
def test_urls_with_tcp_ports_or_none_pass(url: str) -> None:
    assert port_problem(url) is None


def test_the_new_users_database_port_is_a_setting_error_not_an_outage() -> None:
    url = f"postgresql://fsi:{SECRET}@127.0.0.1:99999/fsi"
    # What asyncpg's connect raises for it.
    error = database_error(OverflowError("connect(): port must be 0-65535."), url)
    assert str(error) == f"FSI_DB_URL: port '99999' of 127.0.0.1:99999 {NOT_A_PORT}"
    assert error.exit_code == EXIT_CONFIG


@pytest.mark.parametrize(
    "url", [f"amqp://guest:{SECRET}@127.0.0.1:port/", "amqp://guest:guest@127.0.0.1:0/"]
)
def test_a_broker_url_with_no_tcp_port_is_refused_before_connecting(url: str) -> None:
    with pytest.raises(StartupError) as refused:
        check_url(url)
    assert refused.value.exit_code == EXIT_CONFIG
    assert str(refused.value).startswith("FSI_BROKER_URL: port '")
    assert str(refused.value).endswith(NOT_A_PORT)
    assert SECRET not in str(refused.value)


CLOSED = "the connection was closed before {} answered (check the host and port)"


@pytest.mark.parametrize(
    ("exc", "postgresql", "rabbitmq"),
    [
        # asyncio's words for a failed connect; the errno says why (EHOSTUNREACH).
        (
            OSError(errno.EHOSTUNREACH, "Connect call failed ('192.0.2.7', 5432)"),
            "no route to host",
            "no route to host",
        ),
        (
            OSError(errno.ENETUNREACH, "Connect call failed ('224.0.0.1', 5432)"),
            "network is unreachable",
            "network is unreachable",
        ),
        # aiormq keeps the errno as its first argument.
        (
            aiormq.exceptions.AMQPConnectionError(errno.EHOSTUNREACH, "Connect call failed"),
            "no route to host",
            "no route to host",
        ),
        # asyncpg when the peer closes, or answers the SSL request in another protocol.
        (ConnectionError("unexpected connection_lost() call"), CLOSED, CLOSED),
        (
            ConnectionError('PostgreSQL server at "10.0.0.1:5432" rejected SSL upgrade'),
            CLOSED,
            CLOSED,
        ),
        (
            aiormq.exceptions.AMQPConnectionError(
                "Server connection unexpectedly closed. Read 0 bytes but 1 bytes expected"
            ),
            CLOSED,
            CLOSED,
        ),
        # asyncpg when the peer closes in the middle of the start-up exchange.
        (asyncpg.exceptions.ConnectionDoesNotExistError("closed"), CLOSED, CLOSED),
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "x"),
            "connection refused",
            "connection refused",
        ),
        # A peer that resets the connection it took.
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), CLOSED, CLOSED),
        (
            aiormq.exceptions.AMQPConnectionError(
                "Server connection reset: ConnectionResetError(104, 'Connection reset by peer')"
            ),
            CLOSED,
            CLOSED,
        ),
        (TimeoutError(), "no answer in time", "no answer in time"),
        (socket.gaierror(socket.EAI_NONAME, "x"), "host name not found", "host name not found"),
        (RuntimeError("something else"), "the connection failed", "the connection failed"),
    ],
)
def test_why_a_connection_failed_is_said_in_words(
    exc: BaseException, postgresql: str, rabbitmq: str
) -> None:
    assert unreachable(exc, "PostgreSQL") == postgresql.format("PostgreSQL")
    assert unreachable(exc, "RabbitMQ") == rabbitmq.format("RabbitMQ")


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.EHOSTUNREACH, "Connect call failed ('192.0.2.7', 5432)"),
        ConnectionError("unexpected connection_lost() call"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        RuntimeError("anything"),
    ],
)
def test_no_database_line_names_an_exception_class(exc: BaseException) -> None:
    line = str(database_error(exc, f"postgresql://fsi:{SECRET}@db:5432/fsi"))
    assert not CLASS_NAME.search(line), line
    assert SECRET not in line


def test_a_refusal_that_passes_is_named_in_words() -> None:
    error = database_error(
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
        "postgresql://fsi@db:5432/fsi",
    )
    assert str(error) == (
        "PostgreSQL at db:5432 (FSI_DB_URL) refused: SQLSTATE 53300 (too many connections)"
    )
    assert error.exit_code == EXIT_UNAVAILABLE


def test_no_broker_line_names_an_exception_class() -> None:
    line = str(
        broker_error(
            aiormq.exceptions.AMQPConnectionError(errno.EHOSTUNREACH, "Connect call failed"),
            "amqp://guest:guest@192.0.2.7:5672/",
        )
    )
    assert line == "cannot reach RabbitMQ at 192.0.2.7:5672 (FSI_BROKER_URL): no route to host"


@pytest.mark.parametrize(
    ("exc", "host", "says", "code"),
    [
        (
            OSError(errno.EADDRINUSE, "Address already in use"),
            "127.0.0.1",
            "FSI_HTTP_PORT: 127.0.0.1:8000 is in use (another process listens there)",
            EXIT_UNAVAILABLE,
        ),
        (
            OSError(errno.EADDRINUSE, "Address already in use"),
            "::1",
            "FSI_HTTP_PORT: [::1]:8000 is in use (another process listens there)",
            EXIT_UNAVAILABLE,
        ),
        (
            OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"),
            "203.0.113.9",
            "FSI_HTTP_HOST: 203.0.113.9 is not an address of this machine",
            EXIT_CONFIG,
        ),
        (
            OSError(errno.EACCES, "Permission denied"),
            "0.0.0.0",  # noqa: S104 - only a message
            "FSI_HTTP_PORT: 0.0.0.0:8000 may not be listened on by this user (a port below "
            "1024 needs privileges)",
            EXIT_CONFIG,
        ),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "intake.invalid",
            "FSI_HTTP_HOST: host name 'intake.invalid' not found",
            EXIT_CONFIG,
        ),
    ],
)
def test_an_address_that_cannot_be_listened_on_names_its_setting(
    exc: OSError, host: str, says: str, code: int
) -> None:
    error = listen_error(exc, host, 8000, "FSI_HTTP_HOST", "FSI_HTTP_PORT")
    assert (str(error), error.exit_code) == (says, code)


def test_listen_finds_a_port_another_socket_listens_on() -> None:
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(StartupError) as refused:
            listen("127.0.0.1", port, "FSI_HTTP_HOST", "FSI_HTTP_PORT")
    assert (
        str(refused.value)
        == f"FSI_HTTP_PORT: 127.0.0.1:{port} is in use (another process listens there)"
    )
    assert refused.value.exit_code == EXIT_UNAVAILABLE


def test_listen_hands_over_a_listening_socket() -> None:
    sock = listen("127.0.0.1", 0, "FSI_HTTP_HOST", "FSI_HTTP_PORT")
    with sock, socket.create_connection(sock.getsockname(), timeout=5):
        assert sock.get_inheritable()
