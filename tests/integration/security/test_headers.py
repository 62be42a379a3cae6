"""What every answer says about itself (no caching, no framing, no sniffing, no Referer), one
Authorization header at most, refused credentials logged with the caller's address, and the
OpenAPI explorer: off in a deployment, pinned with its hash in development; no metrics
endpoint names the server or Python's version."""

from __future__ import annotations

import http.client
import json
import platform
import re
import socket
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from services.intake import openapi_renderings as openapi
from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from services.routing import metrics as router_metrics
from tests.conftest import LogCapture
from tests.integration.conftest import unique
from tests.support.broker_inputs import closed_port
from tests.support.clients import KEYS, auth
from tests.support.server import served

EXAMPLE = Path(__file__).parents[3] / "schemas" / "examples" / "report.domestic-violence.json"
SECURE = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _report() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(EXAMPLE.read_text("utf-8"))
    body.update(source="alpha-src", external_id=unique())
    return body


def _secure(headers: Any) -> None:
    for name, value in SECURE.items():
        assert headers.get(name) == value, (name, headers.get(name))
    policy = headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, policy


async def test_a_report_read_back_is_not_cached_framed_or_sniffed(
    intake: AsyncTestClient[Any],
) -> None:
    posted = await intake.post("/v1/reports", json=_report(), headers=auth("alpha"))
    assert posted.status_code == 202, posted.text
    read = await intake.get(posted.headers["location"], headers=auth("alpha"))
    assert read.status_code == 200
    _secure(read.headers)
    assert read.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/reports", {"source": "alpha-src"}, 422),  # names the fields it lacks
        ("GET", f"/v1/reports/{uuid.uuid4()}", None, 404),
        ("GET", "/v1/reports/12345678901", None, 404),  # no route: Litestar's own answer
        ("GET", "/v1/reports", None, 405),
        ("GET", "/v1/ops/overview", None, 403),
    ],
    ids=["422", "404 report", "404 route", "405", "403"],
)
async def test_problems_are_not_cached_framed_or_sniffed(
    intake: AsyncTestClient[Any], method: str, path: str, body: Any, status: int
) -> None:
    answer = await intake.request(method, path, json=body, headers=auth("alpha"))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    _secure(answer.headers)


async def test_the_operations_page_keeps_its_own_policy(intake: AsyncTestClient[Any]) -> None:
    # The page a person lands on after signing out: the operations pages' own, no session.
    page = await intake.get("/ops/signed-out")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    _secure(page.headers)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy  # the page's own, stricter than the default
    assert len(page.headers.get_list("content-security-policy")) == 1


async def test_static_files_keep_their_long_cache(intake: AsyncTestClient[Any]) -> None:
    page = (await intake.get("/ops/signed-out")).text
    (css,) = re.findall(r'href="(/ops/static/ops\.css\?v=\w+)"', page)
    answer = await intake.get(css)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.headers["x-content-type-options"] == "nosniff"


def _raw_get(url: str, path: str, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
    """GET with header fields exactly as given (repeats kept), on a real connection."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.putrequest("GET", path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("path", "first"), [("/v1/reports/{id}", "alpha"), ("/v1/ops/overview", "ops")]
)
def test_several_authorization_headers_are_refused_naming_the_header(
    intake_settings: Callable[..., IntakeSettings], path: str, first: str
) -> None:
    with served(create_app(intake_settings(), configure_logging=False)) as url:
        target = path.format(id=uuid.uuid4())
        keys = [("Authorization", f"Bearer {KEYS[first]}"), ("Authorization", "Bearer other")]
        for fields in (keys, keys[::-1]):
            status, body = _raw_get(url, target, fields)
            assert status == 400, body
            problem = json.loads(body)
            assert "`Authorization`" in problem["detail"]
            assert problem["type"].endswith("/several-authorization-headers")
        # One field is read as before.
        status, _ = _raw_get(url, target, keys[:1])
        assert status in {404, 200, 503}


async def test_a_refused_key_is_logged_with_the_callers_address_and_no_key(
    intake: AsyncTestClient[Any], log_capture: LogCapture
) -> None:
    before = len(log_capture.lines)
    wrong = "wrong-key-" + "w" * 32
    refused = await intake.get(
        f"/v1/reports/{uuid.uuid4()}", headers={"Authorization": f"Bearer {wrong}"}
    )
    assert refused.status_code == 401
    forbidden = await intake.post("/v1/reports", json=_report(), headers=auth("beta"))
    assert forbidden.status_code == 403
    lines = [json.loads(line) for _, line in log_capture.lines[before:]]
    logged = [line for line in lines if line.get("event") == "access refused"]
    assert [(line["status"], line["client"]) for line in logged] == [(401, None), (403, "beta")]
    for line in logged:
        assert line["client_address"] == "testclient"  # Litestar's test client's address
        assert line["route"] in {"/v1/reports", "/v1/reports/{report_id}"}
    text = "\n".join(line for _, line in log_capture.lines[before:])
    assert wrong not in text
    assert KEYS["beta"] not in text


def test_the_explorer_is_off_outside_development(
    intake_settings: Callable[..., IntakeSettings],
) -> None:
    with served(create_app(intake_settings(), configure_logging=False)) as url:
        for path in ("/schema", "/schema/openapi.json"):
            status, body = _raw_get(url, path, [])
            assert status == 200
            assert json.loads(body)["openapi"].startswith("3.1")
        for path in ("/schema/redoc", "/schema/swagger", "/schema/elements", "/schema/rapidoc"):
            status, _ = _raw_get(url, path, [])
            assert status == 404, path


def test_the_explorer_in_development_loads_a_pinned_redoc_checked_by_its_hash(
    intake_settings: Callable[..., IntakeSettings],
) -> None:
    settings = intake_settings()
    development = IntakeSettings(
        **{f: getattr(settings, f) for f in settings.__struct_fields__ if f != "environment"},
        environment="development",
    )
    with served(create_app(development, configure_logging=False)) as url:
        parts = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        connection.request("GET", "/schema")
        answer = connection.getresponse()
        page = answer.read().decode()
        policy = answer.getheader("content-security-policy") or ""
        connection.close()
    assert answer.status == 200
    scripts = re.findall(r"<script[^>]*>", page)
    assert len(scripts) == 1, scripts
    assert f"src='{openapi.REDOC_URL}'" in scripts[0]
    assert f"integrity='{openapi.REDOC_SRI}'" in scripts[0]
    assert re.search(r"redoc@\d+\.\d+\.\d+/", openapi.REDOC_URL)  # a version, not `latest`
    assert re.fullmatch(r"sha384-[A-Za-z0-9+/]{64}", openapi.REDOC_SRI)
    assert "<script>" not in page  # no inline script
    assert "Redoc.init" not in page
    assert "fonts.googleapis.com" not in page
    assert "script-src https://cdn.jsdelivr.net;" in policy
    assert "frame-ancestors 'none'" in policy


async def test_the_intakes_metrics_name_no_python_version(intake: AsyncTestClient[Any]) -> None:
    scraped = await intake.get("/metrics")
    assert scraped.status_code == 200
    assert "fsi_intake_reports_total" in scraped.text
    assert "python_info" not in scraped.text
    assert platform.python_version() not in scraped.text


def test_the_routers_metrics_name_neither_server_nor_python_version() -> None:
    port = closed_port()
    server, _ = router_metrics.serve("127.0.0.1", port)
    try:
        answers = [
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10),
            httpx.head(f"http://127.0.0.1:{port}/metrics", timeout=10),
            httpx.post(f"http://127.0.0.1:{port}/metrics", timeout=10),
        ]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            # A header line past 64 KiB: the standard library answers 431 itself.
            sock.sendall(b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n")
            raw = sock.recv(65536)
    finally:
        server.shutdown()
        server.server_close()
    assert [a.status_code for a in answers] == [200, 200, 405]
    for answer in answers:
        assert "server" not in answer.headers, answer.headers
    assert raw.startswith(b"HTTP/1.0 431 "), raw[:100]
    assert b"\r\nserver:" not in raw.lower()
    assert b"python" not in raw.lower()
    assert "python_info" not in answers[0].text
    assert platform.python_version() not in answers[0].text
