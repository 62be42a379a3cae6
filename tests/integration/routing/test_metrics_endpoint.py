"""The router's own /metrics endpoint; a taken port stops the start, naming FSI_METRICS_PORT."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import httpx
import pytest

from services.common.startup import StartupError
from services.routing import metrics


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_router_serves_its_metrics_and_refuses_a_taken_port() -> None:
    port = free_port()
    served = metrics.serve("127.0.0.1", port)
    try:
        metrics.rules_refused.set(1)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "fsi_routing_rules_refused 1.0" in text
        assert "# TYPE fsi_routing_decisions_total counter" in text
        with pytest.raises(StartupError, match="FSI_METRICS_PORT"):
            metrics.serve("127.0.0.1", port)
    finally:
        metrics.rules_refused.set(0)
        served[0].shutdown()
        served[0].server_close()


def test_a_stranger_cannot_hold_more_than_a_few_connections_or_hold_them_long() -> None:
    """Half-sent requests hold at most `max_connections` threads, each only until its
    timeout; a scrape works again once they are closed."""
    port = free_port()
    server, _ = metrics.serve("127.0.0.1", port, max_connections=4, timeout_seconds=1.0)
    strangers: list[socket.socket] = []
    try:
        base = threading.active_count()
        for _ in range(40):
            conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # half a head, then nothing
            strangers.append(conn)
        time.sleep(0.3)
        assert threading.active_count() <= base + 4
        # Every one of them is closed by the server: at once over the limit, else at the
        # timeout (a read then sees the end of the stream, or a reset).
        started = time.monotonic()
        for conn in strangers:
            with contextlib.suppress(ConnectionResetError):
                assert conn.recv(1024) == b""
        assert time.monotonic() - started < 4
        answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert answer.status_code == 200
    finally:
        for conn in strangers:
            conn.close()
        server.shutdown()
        server.server_close()
