"""The router's own /metrics endpoint; a taken port is logged, not fatal."""

from __future__ import annotations

import socket

import httpx

from services.routing import metrics


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_the_router_serves_its_metrics_and_survives_a_taken_port() -> None:
    port = free_port()
    served = metrics.serve("127.0.0.1", port)
    assert served is not None
    try:
        metrics.rules_refused.set(1)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "fsi_routing_rules_refused 1.0" in text
        assert "# TYPE fsi_routing_decisions_total counter" in text
        assert metrics.serve("127.0.0.1", port) is None
    finally:
        metrics.rules_refused.set(0)
        served[0].shutdown()
        served[0].server_close()
