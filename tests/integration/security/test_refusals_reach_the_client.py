"""A client that sends its whole body before reading (Python's urllib) reads the refusal: the
intake reads the rest of a refused body first, so the connection is not reset under it."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request
from typing import Any

import httpx
import pytest

from tests.integration.security.test_hostile_input import (
    BATCH_LIMIT,
    LIMIT,
    answered,
    report,
    server,  # noqa: F401 (the real intake these tests talk to)
)
from tests.support.clients import KEYS

KEY = {"Authorization": f"Bearer {KEYS['alpha']}"}
JSON = {"Content-Type": "application/json"}


def urllib_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """POST as urllib does it (the whole body first, `Connection: close`): status, problem."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (our server)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


@pytest.mark.parametrize(
    ("path", "size", "limit"),
    [
        ("/v1/reports", 8 * 1_048_576, LIMIT),
        ("/v1/sources/citizen/reports", 12 * 1_048_576, LIMIT),
        ("/v1/reports/batch", 16 * 1_048_576, BATCH_LIMIT),
    ],
)
def test_urllib_sending_a_body_over_the_limit_reads_the_413(
    server: str,  # noqa: F811
    path: str,
    size: int,
    limit: int,
) -> None:
    status, problem = urllib_post(f"{server}{path}", b" " * size, {**KEY, **JSON})
    assert (status, problem["detail"]) == (413, f"at most {limit} bytes")


@pytest.mark.parametrize(
    ("headers", "status"),
    [({**JSON}, 401), ({**KEY, "Content-Type": "text/plain"}, 415)],
    ids=["no key", "not json"],
)
def test_urllib_refused_before_its_body_is_read_reads_the_refusal(
    server: str,  # noqa: F811
    headers: dict[str, str],
    status: int,
) -> None:
    body = json.dumps(report()).encode() + b" " * (6 * 1_048_576)
    assert urllib_post(f"{server}/v1/reports", body, headers)[0] == status


def test_urllib_sending_a_gzip_bomb_reads_its_413(server: str) -> None:  # noqa: F811
    # Small as sent, 32 MiB decoded: refused by its decoded size while its tail is unread.
    bomb = gzip.compress(b"[" + b" " * (32 * 1_048_576) + b"]", 9) + bytes(4 * 1_048_576)
    headers = {**KEY, **JSON, "Content-Encoding": "gzip"}
    status, problem = urllib_post(f"{server}/v1/reports", bomb, headers)
    assert (status, problem["detail"]) == (413, f"at most {LIMIT} bytes")


def test_a_body_within_the_limit_is_still_served_at_once(server: str) -> None:  # noqa: F811
    before = answered(server, "202", "/v1/reports")
    status, _ = urllib_post(f"{server}/v1/reports", json.dumps(report()).encode(), {**KEY, **JSON})
    assert status == 202
    assert answered(server, "202", "/v1/reports") == before + 1
    assert httpx.get(f"{server}/healthz").status_code == 200
