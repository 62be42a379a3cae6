"""Start-up failures in one line: the setting, the host and port, why, and an exit code; never
a user or password from the URL."""

from __future__ import annotations

import socket

import aiormq
import asyncpg
import pytest

from services.common.broker import broker_error, check_url
from services.common.db import database_error
from services.common.migrate import MigrationError
from services.common.startup import (
    EXIT_CONFIG,
    EXIT_TOPOLOGY,
    EXIT_UNAVAILABLE,
    StartupError,
    where,
)
from services.common.topology_mismatch import TopologyMismatch, parse_precondition

SECRET = "s3cr3t-Passw0rd"


@pytest.mark.parametrize(
    ("url", "port", "expected"),
    [
        (f"postgresql://fsi:{SECRET}@db.example:6432/fsi", 5432, "db.example:6432"),
        (f"postgresql://fsi:{SECRET}@db.example/fsi?sslmode=require", 5432, "db.example:5432"),
        # libpq's multi-host form, as Patroni set-ups use it
        (f"postgresql://fsi:{SECRET}@a:5433,b:5434/fsi", 5432, "a:5433,b:5434"),
        (f"postgresql://fsi:{SECRET}@[::1]/fsi", 5432, "[::1]:5432"),
        (f"postgresql:///fsi?host=/run/postgresql&password={SECRET}", 5432, "/run/postgresql:5432"),
        ("postgresql:///fsi", 5432, "the local socket"),
        (f"amqp://guest:{SECRET}@mq.example/", 5672, "mq.example:5672"),
        # a password with an @ left unencoded still goes
        (f"amqp://guest:{SECRET}@x@mq.example:5673/fsi", 5672, "mq.example:5673"),
    ],
)
def test_where_names_hosts_and_ports_only(url: str, port: int, expected: str) -> None:
    assert where(url, port) == expected


DB_URL = f"postgresql://fsi:{SECRET}@127.0.0.1:6543/fsi_prod"


@pytest.mark.parametrize(
    ("exc", "code", "says"),
    [
        (ConnectionRefusedError(111, "Connect failed"), EXIT_UNAVAILABLE, "connection refused"),
        (socket.gaierror(-2, "Name or service not known"), EXIT_UNAVAILABLE, "host name not found"),
        (TimeoutError(), EXIT_UNAVAILABLE, "no answer in time"),
        (asyncpg.InvalidPasswordError(f"password for {SECRET}"), EXIT_CONFIG, "refused the login"),
        (asyncpg.InvalidCatalogNameError("x"), EXIT_CONFIG, "has no database 'fsi_prod'"),
        (asyncpg.CannotConnectNowError("starting up"), EXIT_UNAVAILABLE, "SQLSTATE 57P03"),
        (asyncpg.ClientConfigurationError(f"bad {SECRET}"), EXIT_CONFIG, "not a usable"),
        (MigrationError("migration 0002_decisions was changed"), EXIT_CONFIG, "0002_decisions"),
    ],
)
def test_a_database_failure_names_setting_host_port_and_why(
    exc: BaseException, code: int, says: str
) -> None:
    error = database_error(exc, DB_URL)
    assert error.exit_code == code
    assert "FSI_DB_URL" in str(error)
    assert says in str(error)
    assert SECRET not in str(error)
    assert "fsi:" not in str(error)  # nor the user
    assert "\n" not in str(error)


MQ_URL = f"amqp://fsi:{SECRET}@127.0.0.1:5999/prod"
REFUSED = aiormq.exceptions.AMQPConnectionError(111, "Connect call failed ('127.0.0.1', 5999)")
MISMATCH = TopologyMismatch(
    parse_precondition(
        "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'fsi.routing.reports' "
        "in vhost 'prod': received none but current is '100000'",
        "queue",
        "fsi.routing.reports",
    )
)


@pytest.mark.parametrize(
    ("exc", "code", "says"),
    [
        (REFUSED, EXIT_UNAVAILABLE, "cannot reach RabbitMQ at 127.0.0.1:5999 (FSI_BROKER_URL)"),
        (aiormq.exceptions.AMQPConnectionError(-2, "Name"), EXIT_UNAVAILABLE, "host name"),
        (
            aiormq.exceptions.ProbableAuthenticationError("ACCESS_REFUSED - Login was refused"),
            EXIT_CONFIG,
            "refused the login",
        ),
        (
            aiormq.exceptions.InvalidFrameError("Expected Connection.OpenOk"),
            EXIT_CONFIG,
            "virtual host 'prod'",
        ),
        (MISMATCH, EXIT_TOPOLOGY, "queue 'fsi.routing.reports': the broker has x-max-length"),
    ],
)
def test_a_broker_failure_names_setting_host_port_and_why(
    exc: BaseException, code: int, says: str
) -> None:
    error = broker_error(exc, MQ_URL)
    assert error.exit_code == code
    assert says in str(error)
    assert "FSI_BROKER_URL" in str(error)
    assert SECRET not in str(error)
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5672/",
        "amqp//guest:guest@127.0.0.1",
        "amqp://guest:guest@:5672/",
        "",
    ],
)
def test_a_url_that_is_not_amqp_is_refused_before_connecting(url: str) -> None:
    with pytest.raises(StartupError) as refused:
        check_url(url)
    assert refused.value.exit_code == EXIT_CONFIG
    assert str(refused.value).startswith("FSI_BROKER_URL is not a RabbitMQ URL")
    assert SECRET not in str(refused.value)
