"""HEAD answers like GET without the body (RFC 9110 section 9.3.2), on a real uvicorn server:
every GET route of the intake (its OpenAPI document and renderings too), and the router's
metrics endpoint."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from services.routing import metrics as router_metrics
from tests.integration.intake.test_reports_api import report
from tests.support.clients import auth
from tests.support.server import served


@pytest.fixture
def server(intake_settings: Callable[..., IntakeSettings]) -> Iterator[str]:
    # No relay: a report stays `accepted`, so GET and HEAD describe the same answer.
    with served(create_app(intake_settings(enabled=False), configure_logging=False)) as url:
        yield url


def head(
    url: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and every byte after them until the server closes the connection."""
    host, port = url.removeprefix("http://").split(":")
    lines = [f"HEAD {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head_part, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head_part.decode("latin-1").split("\r\n")
    fields = {name.lower(): value for name, value in (h.split(": ", 1) for h in header_lines)}
    return int(status_line.split()[1]), fields, rest


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_answers_head_like_get_without_a_body(server: str, path: str) -> None:
    got = httpx.get(f"{server}{path}")
    status, fields, rest = head(server, path)
    assert (status, rest) == (got.status_code, b"")
    assert fields["content-type"] == got.headers["content-type"]
    assert int(fields["content-length"]) == len(got.content)


def test_a_report_answers_head_for_whom_get_answers(server: str) -> None:
    posted = httpx.post(f"{server}/v1/reports", json=report(), headers=auth("alpha"))
    location = posted.headers["location"]
    own = httpx.get(f"{server}{location}", headers=auth("alpha"))
    assert own.status_code == 200
    answers = {
        who: head(server, location, auth(who) if who else None)
        for who in ("alpha", "ops", "beta", None)
    }
    assert {who: status for who, (status, _, _) in answers.items()} == {
        "alpha": 200,
        "ops": 200,
        "beta": 404,
        None: 401,
    }
    assert all(rest == b"" for _, _, rest in answers.values())
    assert int(answers["alpha"][1]["content-length"]) == len(own.content)
    assert answers[None][1]["www-authenticate"].startswith("Bearer")


def test_head_is_no_way_around_a_post_only_route(server: str) -> None:
    status, fields, rest = head(server, "/v1/reports/batch", auth("alpha"))
    assert (status, rest) == (405, b"")
    assert set(fields["allow"].split(", ")) == {"OPTIONS", "POST"}


def test_every_get_route_of_ours_answers_head(
    intake_settings: Callable[..., IntakeSettings],
) -> None:
    app = create_app(intake_settings(), configure_logging=False)
    get_only = {
        route.path
        for route in app.routes
        if "GET" in getattr(route, "methods", set()) and "HEAD" not in route.methods
    }
    assert get_only == set()
    # Litestar's OpenAPI document and its renderings are among them.
    assert {"/schema", "/schema/openapi.json", "/schema/{path:str}"} <= {
        route.path for route in app.routes
    }


# The OpenAPI document as JSON (also at /schema) and YAML, and the answer for a path under
# /schema that is none of them (404), such as an explorer outside development.
SCHEMA_PATHS = [
    "/schema",
    "/schema/openapi.json",
    "/schema/openapi.yaml",
    "/schema/openapi.yml",
    "/schema/redoc-no-such-page",
]


@pytest.mark.parametrize("path", SCHEMA_PATHS)
def test_the_openapi_document_answers_head_like_get(server: str, path: str) -> None:
    got = httpx.get(f"{server}{path}")
    assert got.status_code == (404 if path.endswith("no-such-page") else 200)
    status, fields, rest = head(server, path)
    assert (status, rest) == (got.status_code, b"")
    assert fields["content-type"] == got.headers["content-type"]
    assert int(fields["content-length"]) == len(got.content)


@pytest.fixture
def router_endpoint() -> Iterator[str]:
    """The router's metrics endpoint, as fsi-router serves it, on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server, _ = router_metrics.serve("127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_routers_metrics_answer_head_like_get(router_endpoint: str) -> None:
    got = httpx.get(f"{router_endpoint}/metrics")
    assert got.status_code == 200
    assert "# TYPE fsi_routing_decisions_total counter" in got.text
    status, fields, rest = head(router_endpoint, "/metrics")
    assert (status, rest) == (200, b"")
    assert fields["content-type"] == got.headers["content-type"]
    # The length GET sends, give or take the digits of the process_* gauges (CPU seconds,
    # memory), which move between two requests.
    assert abs(int(fields["content-length"]) - len(got.content)) < 16


def test_the_routers_metrics_name_head_among_the_methods_they_allow(router_endpoint: str) -> None:
    options = httpx.options(f"{router_endpoint}/metrics")
    refused = httpx.post(f"{router_endpoint}/metrics")
    assert (options.status_code, refused.status_code) == (200, 405)
    for answer in (options, refused):
        assert set(answer.headers["allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/metrics", None),
        ("/ops/signed-out", None),
        ("/ops/static/ops.js", None),
        ("/v1/ops/overview", "ops"),
    ],
)
def test_metrics_and_operations_answer_head_like_get(
    server: str, path: str, who: str | None
) -> None:
    headers = auth(who) if who else {}
    got = httpx.get(f"{server}{path}", headers=headers)
    for _ in range(100):  # the overview answers 503 until the monitor's first reading
        if got.status_code != 503:
            break
        time.sleep(0.1)
        got = httpx.get(f"{server}{path}", headers=headers)
    status, fields, rest = head(server, path, headers)
    assert (status, rest) == (got.status_code, b"")
    assert fields["content-type"] == got.headers["content-type"]
