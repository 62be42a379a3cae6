"""What a stranger's connection may cost the intake as `fsi-intake` serves it (a real uvicorn
process): a body past its route's limit refused from its length, a head past its size refused
before it ends, a head that never ends, a body that stalls and an idle connection closed
within their bounds, and requests past the concurrency limit answered 503 at once."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests import harness
from tests.conftest import _admin as admin
from tests.conftest import as_login
from tests.support.broker_inputs import closed_port
from tests.support.clients import CLIENTS_YAML, auth
from tests.support.processes import ServiceProcess

HEADER_SECONDS, KEEP_ALIVE_SECONDS, BODY_SECONDS, CONNECTIONS = 2, 1, 2, 6
# Generous margins: the bounds are seconds, this machine's scheduling a fraction of one.
SLACK = 2.5


@pytest.fixture(scope="module")
async def limits_database(admin_db_url: str, template_database_url: str) -> AsyncIterator[str]:
    """A migrated database for this module's one intake process (nothing is stored in it)."""
    name = f"fsi_limits_{uuid.uuid4().hex[:12]}"
    template = template_database_url.rsplit("/", 1)[1]
    await admin(admin_db_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield harness.with_database(admin_db_url, name)
    await admin(admin_db_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def intake_address(
    limits_database: str,
    service_logins: dict[str, str],
    amqp_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, int]]:
    """`fsi-intake` (python -m services.intake.main) with short bounds, on a free port, one
    process for the module (each start costs seconds)."""
    folder = tmp_path_factory.mktemp("limits")
    clients_file = folder / "clients.yaml"
    clients_file.write_text(CLIENTS_YAML, "utf-8")
    port = closed_port()
    process = ServiceProcess(
        "services.intake.main",
        {
            "FSI_DB_URL": as_login(limits_database, service_logins["intake"]),
            "FSI_DB_MIGRATE_ON_START": "false",
            "FSI_BROKER_URL": amqp_url,
            "FSI_BROKER_PREFIX": f"limits{uuid.uuid4().hex[:8]}.",
            "FSI_RELAY_ENABLED": "false",
            "FSI_ACCESS_CLIENTS_FILE": str(clients_file),
            "FSI_HTTP_PORT": str(port),
            "FSI_HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_SECONDS),
            "FSI_HTTP_KEEP_ALIVE_SECONDS": str(KEEP_ALIVE_SECONDS),
            "FSI_HTTP_BODY_TIMEOUT_SECONDS": str(BODY_SECONDS),
            "FSI_HTTP_MAX_CONNECTIONS": str(CONNECTIONS),
        },
        folder / "intake.log",
    )
    process.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.process is not None
            assert process.process.poll() is None, process.output
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, process.output
            time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        process.stop()


def _connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=10)
    sock.settimeout(10)
    return sock


def _read_until_closed(sock: socket.socket, within: float) -> tuple[bytes, float]:
    """Everything the server writes until it closes the connection, and how long that took;
    a connection still open after `within` seconds fails the test."""
    started = time.monotonic()
    sock.settimeout(within)
    got = b""
    try:
        while chunk := sock.recv(65536):
            got += chunk
    except TimeoutError:
        pytest.fail(f"the connection was still open after {within} s (got {got[:80]!r})")
    except ConnectionResetError:
        pass
    return got, time.monotonic() - started


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_a_2_mib_form_to_the_sign_out_is_refused_by_its_length_unread(
    intake_address: tuple[str, int],
) -> None:
    # A client that waits for `100 Continue` before sending: the answer comes first.
    with _connect(intake_address) as sock:
        sock.sendall(
            b"POST /ops/logout HTTP/1.1\r\nHost: intake\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 2097152\r\nExpect: 100-continue\r\n\r\n"
        )
        sock.settimeout(5)
        try:
            first = sock.recv(65536)
        except TimeoutError:
            pytest.fail("no answer within 5 s to a 2 MiB form announced by its length")
    assert _status(first) == 413, first[:200]
    # One that sends the whole form before it reads gets the same answer.
    answer = httpx.post(
        f"http://{intake_address[0]}:{intake_address[1]}/ops/logout",
        content=b"key=" + b"a" * (2 * 1_048_576),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert answer.status_code == 413


def test_a_1_mib_header_is_refused_before_it_ends(intake_address: tuple[str, int]) -> None:
    started = time.monotonic()
    with _connect(intake_address) as sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: intake\r\nX-Big: ")
            for _ in range(64):
                sock.sendall(b"a" * 16384)
            sock.sendall(b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed on us while sending: refused
        answer, _ = _read_until_closed(sock, 5)
    assert time.monotonic() - started < 5
    assert _status(answer) in {0, 400, 431}, answer[:200]  # never 200: the head is refused


def test_half_a_head_that_stalls_is_closed_within_the_header_timeout(
    intake_address: tuple[str, int],
) -> None:
    with _connect(intake_address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: intake\r\n")
        answer, seconds = _read_until_closed(sock, HEADER_SECONDS + SLACK)
    assert _status(answer) == 408, answer
    assert seconds >= HEADER_SECONDS - 0.5


def test_a_head_sent_byte_by_byte_does_not_extend_its_deadline(
    intake_address: tuple[str, int],
) -> None:
    started = time.monotonic()
    with _connect(intake_address) as sock:
        try:
            for byte in b"GET /healthz HTTP/1.1\r\nHost: intake\r\nX-Slow: " + b"a" * 100:
                sock.sendall(bytes([byte]))
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        _read_until_closed(sock, HEADER_SECONDS + SLACK)
    assert time.monotonic() - started < HEADER_SECONDS + SLACK


def test_a_connection_that_never_sends_is_closed_within_the_header_timeout(
    intake_address: tuple[str, int],
) -> None:
    with _connect(intake_address) as sock:
        answer, seconds = _read_until_closed(sock, HEADER_SECONDS + SLACK)
    assert answer == b""  # nothing was asked, nothing is said
    assert seconds >= HEADER_SECONDS - 0.5


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(
    intake_address: tuple[str, int],
) -> None:
    with _connect(intake_address) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: intake\r\n\r\n")
        answer, seconds = _read_until_closed(sock, KEEP_ALIVE_SECONDS + SLACK)
    assert _status(answer) == 200
    assert seconds < KEEP_ALIVE_SECONDS + SLACK


@pytest.mark.parametrize(
    ("head", "who"),
    [
        (b"POST /ops/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n", None),
        (b"POST /v1/reports HTTP/1.1\r\nContent-Type: application/json\r\n", "alpha"),
        (b"GET /healthz HTTP/1.1\r\n", None),  # a body nobody reads
    ],
    ids=["sign-in form", "report", "unread body"],
)
def test_half_a_body_that_stalls_is_closed_within_the_body_timeout(
    intake_address: tuple[str, int], head: bytes, who: str | None
) -> None:
    key = f"Authorization: {auth(who)['Authorization']}\r\n".encode() if who else b""
    with _connect(intake_address) as sock:
        sock.sendall(head + key + b"Host: intake\r\nContent-Length: 100\r\n\r\nkey=abc")
        _, seconds = _read_until_closed(sock, BODY_SECONDS + HEADER_SECONDS + SLACK)
    assert seconds < BODY_SECONDS + HEADER_SECONDS + SLACK


def test_requests_past_the_concurrency_limit_are_answered_503_at_once(
    intake_address: tuple[str, int],
) -> None:
    held = [_connect(intake_address) for _ in range(CONNECTIONS)]
    try:
        with _connect(intake_address) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: intake\r\n\r\n")
            answer, _ = _read_until_closed(sock, 5)
        assert _status(answer) == 503, answer[:200]
    finally:
        for sock in held:
            sock.close()
    # Once they are gone, the intake answers again.
    time.sleep(0.5)
    again = httpx.get(f"http://{intake_address[0]}:{intake_address[1]}/healthz", timeout=5)
    assert again.status_code == 200
