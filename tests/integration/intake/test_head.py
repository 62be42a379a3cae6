"""HEAD answers like GET without the body (RFC 9110 section 9.3.2), on a real uvicorn server."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from tests.integration.conftest import auth
from tests.integration.intake.test_reports_api import report
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
        if "GET" in getattr(route, "methods", set())
        and "HEAD" not in route.methods  # type: ignore[attr-defined]
        and not route.path.startswith("/schema")  # Litestar's own OpenAPI renderings
    }
    assert get_only == set()


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/metrics", None),
        ("/ops/login", None),
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
