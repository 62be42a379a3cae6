"""Connecting to RabbitMQ, and saying plainly why a connection or a declare failed.

`connect` is how every part opens a connection; `broker_error` turns what aio-pika raised
into one line naming FSI_BROKER_URL's host and port (never its user or password) and the
exit code a command leaves with.
"""

from __future__ import annotations

import logging
import urllib.parse

import aio_pika
import aiormq

from services.common.startup import (
    EXIT_CONFIG,
    EXIT_TOPOLOGY,
    EXIT_UNAVAILABLE,
    StartupError,
    port_problem,
    unreachable,
    where,
)
from services.common.topology_mismatch import TopologyMismatch, TopologyMissing

SCHEMES = {"amqp": 5672, "amqps": 5671}

# Failures of the broker connection or channel rather than of our message: they pass when
# RabbitMQ is back. aio-pika's AMQPError is aiormq's; a channel that died under a call raises
# ChannelInvalidStateError, a RuntimeError outside that tree; OSError and TimeoutError come
# from the socket (ConnectionError is an OSError). The twin of `db.CONNECTION_ERRORS`.
BROKER_ERRORS: tuple[type[Exception], ...] = (
    aio_pika.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
    OSError,
    TimeoutError,
)
# Opening a connection may also meet a URL it cannot read (ValueError).
CONNECT_ERRORS: tuple[type[Exception], ...] = (*BROKER_ERRORS, ValueError)


class _TransportErrorFilter(logging.Filter):
    """aiormq logs every failed connection attempt with its exception before raising it;
    the caller reports the same failure in its own words, so the copy is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error when creating transport")


# On the logger itself, from import: every connection attempt of the process (the intake's
# monitor too) goes through it, whoever opens it.
logging.getLogger("aiormq.connection").addFilter(_TransportErrorFilter())


def port_of(url: str) -> int:
    """The default port of the URL's scheme (5672, or 5671 for amqps)."""
    return SCHEMES.get(urllib.parse.urlsplit(url).scheme, 5672)


def check_url(url: str, setting: str = "FSI_BROKER_URL") -> None:
    """A `StartupError` unless the URL is amqp:// or amqps:// with a host and, when it names
    one, a port from 1 to 65535 (aio-pika reads any scheme as amqp, an empty host as an error
    deep inside the connect, and port 0 as 5672)."""
    problem = port_problem(url)
    if problem is not None:
        raise StartupError(f"{setting}: {problem}", EXIT_CONFIG)
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in SCHEMES or not parts.hostname:
        raise StartupError(
            f"{setting} is not a RabbitMQ URL (amqp://user:password@host:5672/vhost)", EXIT_CONFIG
        )


async def connect(
    url: str, *, robust: bool = False, wait_seconds: float = 10
) -> aio_pika.abc.AbstractConnection:
    """A connection to RabbitMQ (robust: reconnecting by itself once established).

    Raises what aio-pika raises; `broker_error` says what it means."""
    check_url(url)
    if robust:
        return await aio_pika.connect_robust(url, timeout=wait_seconds)
    return await aio_pika.connect(url, timeout=wait_seconds)


def broker_error(exc: BaseException, url: str, setting: str = "FSI_BROKER_URL") -> StartupError:
    """Why RabbitMQ at `url` cannot be used, as one line with its exit code."""
    if isinstance(exc, StartupError):
        return exc
    at = where(url, port_of(url))
    vhost = urllib.parse.unquote(urllib.parse.urlsplit(url).path[1:]) or "/"
    if isinstance(exc, TopologyMissing):
        return StartupError(
            f"RabbitMQ at {at} ({setting}) is reachable but {exc.difference.kind} "
            f"'{exc.difference.name}' is missing, and this user may not declare it: "
            "run fsi-declare as the topology's owner (deploy/rabbitmq)",
            EXIT_TOPOLOGY,
        )
    if isinstance(exc, TopologyMismatch):
        return StartupError(
            f"RabbitMQ at {at} ({setting}) is reachable but its topology differs: {exc} "
            f"(delete the {exc.difference.kind} or align its arguments; docs/operations.md)",
            EXIT_TOPOLOGY,
        )
    if isinstance(
        exc, aiormq.exceptions.ProbableAuthenticationError | aiormq.exceptions.AuthenticationError
    ):
        return StartupError(
            f"RabbitMQ at {at} ({setting}) refused the login: check the user and password",
            EXIT_CONFIG,
        )
    # Refusing Connection.Open is how RabbitMQ answers an unknown or forbidden virtual host
    # (530 NOT_ALLOWED; aiormq raises it as an unexpected frame).
    closed = isinstance(exc, aiormq.exceptions.ConnectionClosed) and exc.args[:1] == (530,)
    if closed or isinstance(exc, aiormq.exceptions.InvalidFrameError):
        return StartupError(
            f"RabbitMQ at {at} ({setting}) refused to open virtual host '{vhost}': does it "
            "exist, and may the user use it?",
            EXIT_CONFIG,
        )
    if isinstance(exc, ValueError):
        return StartupError(
            f"{setting} is not a RabbitMQ URL (amqp://user:password@host:5672/vhost)", EXIT_CONFIG
        )
    return StartupError(
        f"cannot reach RabbitMQ at {at} ({setting}): {unreachable(exc, 'RabbitMQ')}",
        EXIT_UNAVAILABLE,
    )
