"""What a command says when it cannot start: one line naming the setting, where and why.

Every entry point (fsi-intake, fsi-router, fsi-migrate, fsi-declare, fsi-broker-access)
turns a failure it cannot run past into a `StartupError` and leaves through `fail`: one line
on stderr, no traceback, no exception class names, and an exit code that tells a supervisor
whether starting again can help. A URL is shown by its host and port only: never its user,
password or query. The ports a process listens on are bound here too (`listen`), before it
says it started, so a port in use is the same kind of line. What PostgreSQL's and RabbitMQ's
failures are called is beside their connections (`db.database_error`,
`broker.broker_error`).
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import urllib.parse
from typing import NoReturn, TypeVar

import asyncpg
import msgspec

from services.common import settings as fsi_settings

S = TypeVar("S", bound=msgspec.Struct)

# Exit codes from sysexits.h, so that a supervisor can restart on the first and stop on the
# others (systemd: RestartPreventExitStatus=76 78).
# EX_UNAVAILABLE: PostgreSQL or RabbitMQ cannot be reached now, or a port to listen on is in
# use (another process holds it; it may let go, as an instance being replaced does).
EXIT_UNAVAILABLE = 69
EXIT_TOPOLOGY = 76  # EX_PROTOCOL: RabbitMQ holds a queue or exchange of ours with other arguments
# EX_CONFIG: a setting (a port out of range, an address not of this machine), a file, a login,
# a database or a virtual host is wrong.
EXIT_CONFIG = 78


class StartupError(Exception):
    """A reason not to start, as one line, with the exit code it calls for."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(command: str, error: StartupError) -> NoReturn:
    """Print `command: message` on stderr and exit with the error's code."""
    print(f"{command}: {error}", file=sys.stderr, flush=True)
    sys.exit(error.exit_code)


def settings_or_exit(cls: type[S], command: str) -> S:
    """The command's settings from the environment; on a bad one, `command: why` on stderr
    and exit 78 (EX_CONFIG)."""
    try:
        return fsi_settings.load(cls)
    except fsi_settings.SettingsError as exc:
        fail(command, StartupError(str(exc), EXIT_CONFIG))


def where(url: str, default_port: int) -> str:
    """The hosts and ports a URL names (`host:port`, comma-separated for several hosts), or
    `the local socket` when it names none; never the user, password, path or query."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    hosts = []
    for part in netloc.split(","):
        if not part:
            continue
        bracket = part.rfind("]")
        has_port = part.rfind(":") > bracket
        hosts.append(part if has_port else f"{part}:{default_port}")
    if hosts:
        return ",".join(hosts)
    # libpq's `?host=/run/postgresql` (a socket directory) when the URL names no host.
    query = urllib.parse.parse_qs(parts.query)
    if "host" in query:
        port = query.get("port", [str(default_port)])[0]
        return ",".join(f"{host}:{port}" for host in query["host"][0].split(","))
    return "the local socket"


# getaddrinfo's "no such host" codes (EAI_NONAME, EAI_AGAIN, EAI_NODATA as glibc numbers them).
_NAME_NOT_FOUND = {-2, -3, -5, socket.EAI_NONAME}


# A peer that closed (reset, aborted, a broken pipe): said as "closed before it answered".
_CLOSED = {errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE}


def _code(exc: BaseException) -> int | None:
    # An OSError's errno, or the one aiormq keeps as its first argument when it wraps one.
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


def unreachable(exc: BaseException, server: str) -> str:
    """Why a connection to `server` ("PostgreSQL", "RabbitMQ") failed, in plain words: the
    operating system's own (`no route to host`), or what was seen (`the connection was closed
    before RabbitMQ answered`); never an exception's class name or a message quoting the URL."""
    code = _code(exc)
    if isinstance(exc, socket.gaierror) or code in _NAME_NOT_FOUND:
        return "host name not found"
    if isinstance(exc, ConnectionRefusedError) or code == errno.ECONNREFUSED:
        return "connection refused"
    if isinstance(exc, TimeoutError) or code == errno.ETIMEDOUT:
        return "no answer in time"
    closed = f"the connection was closed before {server} answered (check the host and port)"
    if code in _CLOSED:
        return closed
    if code is not None and code > 0 and code in errno.errorcode:
        # `Connect call failed ('192.0.2.7', 5432)` is asyncio's wording; the reason is the
        # errno's: no route to host, network is unreachable, ...
        text = os.strerror(code)
        return text[0].lower() + text[1:]
    if isinstance(exc, ConnectionError | EOFError | asyncpg.ConnectionDoesNotExistError):
        # Something took the connection and closed it (or answered in another protocol):
        # another service on that port, a proxy, a firewall, TLS where none is expected.
        return closed
    return "the connection failed"


def port_problem(url: str) -> str | None:
    """What is wrong with a port the URL names, quoting it as written (`port '99999' of
    127.0.0.1:99999 is not a TCP port (a number from 1 to 65535)`); None when every port is
    one or none is given. Hosts may be a comma-separated list, or libpq's `?port=`."""
    parts = urllib.parse.urlsplit(url)
    given: list[tuple[str, str]] = []
    for part in parts.netloc.rpartition("@")[2].split(","):
        colon = part.rfind(":")
        if colon > part.rfind("]"):
            given.append((part, part[colon + 1 :]))
    for value in urllib.parse.parse_qs(parts.query).get("port", []):
        given += [(f"port={value}", text) for text in value.split(",")]
    for place, text in given:
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= 65535):
            return f"port '{text}' of {place} is not a TCP port (a number from 1 to 65535)"
    return None


def address(host: str, port: int) -> str:
    """`host:port`, an IPv6 host in brackets (`[::1]:8000`)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen_error(
    exc: OSError, host: str, port: int, host_setting: str, port_setting: str
) -> StartupError:
    """Why a server cannot listen on host:port, naming the setting to change: a port in use
    (`FSI_HTTP_PORT: 127.0.0.1:8000 is in use`, 69), or a host that is no address of this
    machine, a name not found, a port not allowed (78)."""
    at = address(host, port)
    if isinstance(exc, socket.gaierror):
        return StartupError(f"{host_setting}: host name '{host}' not found", EXIT_CONFIG)
    if exc.errno == errno.EADDRINUSE:
        return StartupError(
            f"{port_setting}: {at} is in use (another process listens there)", EXIT_UNAVAILABLE
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return StartupError(
            f"{host_setting}: {host} is not an address of this machine", EXIT_CONFIG
        )
    if exc.errno == errno.EACCES:
        return StartupError(
            f"{port_setting}: {at} may not be listened on by this user (a port below 1024 "
            "needs privileges)",
            EXIT_CONFIG,
        )
    reason = os.strerror(exc.errno) if exc.errno else "the operating system refused"
    return StartupError(f"{port_setting}: cannot listen on {at}: {reason}", EXIT_CONFIG)


def listen(host: str, port: int, host_setting: str, port_setting: str) -> socket.socket:
    """A TCP socket bound to host:port and listening (SO_REUSEADDR, as uvicorn binds), to hand
    to the server; a `StartupError` (`listen_error`) when it cannot be had. Listening here,
    not only binding, is what finds a port another process holds."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError as exc:
        sock.close()
        raise listen_error(exc, host, port, host_setting, port_setting) from None
    sock.set_inheritable(True)  # the workers of FSI_HTTP_WORKERS > 1 serve it too
    return sock
