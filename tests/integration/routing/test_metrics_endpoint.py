"""The router's own /metrics endpoint; a taken port stops the start, naming FSI_METRICS_PORT."""

from __future__ import annotations

import socket

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
