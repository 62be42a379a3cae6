"""Hostile input over real HTTP: a 4xx problem naming what and where, never a 500 or a hang."""

from __future__ import annotations

import json
import re
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from services.intake.app import create_app
from services.intake.body import DRAIN_BYTES
from services.intake.settings import HttpSettings, IntakeSettings
from tests.integration.conftest import unique
from tests.support.clients import KEYS, auth
from tests.support.server import served

EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples"
LIMIT = HttpSettings().max_body_bytes
BATCH_LIMIT = 4 * 1_048_576
BODY_SECONDS = 3.0
JSON = {"content-type": "application/json"}
# Shaped to break a query built by pasting text into SQL; each must come back as sent.
SQL = [
    "'; DROP TABLE reports; --",
    "Robert'); DELETE FROM outbox WHERE ''=''; --",
    "1' OR '1'='1",
    '" OR ""="; TRUNCATE decisions CASCADE; --',
    "$$; SELECT pg_sleep(30); $$",
    "x' UNION SELECT raw_body FROM reports --",
    "\\'; COPY reports TO '/tmp/x'; --",
    "E'\\\\x27'::bytea || $1 || %s || {}",
]


def report(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / "report.domestic-violence.json").read_text())
    body.update({"source": "alpha-src", "external_id": unique("hostile"), **changes})
    return body


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem in `response`, after checking it is one, with this status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert all(isinstance(body[k], str) and body[k] for k in ("type", "title", "detail"))
    return body


def paths(response: httpx.Response) -> set[str]:
    return {e["path"] for e in problem(response, 422)["errors"]}


# --- through the test client -----------------------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/v1/reports", DEEP),
        ("/v1/reports", b'{"incident": {"description": ' + DEEP + b"}}"),
        ("/v1/reports/batch", b'{"reports": [' + DEEP + b"]}"),
        ("/v1/sources/citizen/reports", b'{"anmelder": ' + b'{"a": ' * 50_000 + b"}" * 50_001),
    ],
    ids=["top level", "in a field", "in a batch item", "objects in a source format"],
)
async def test_deeply_nested_json_is_refused_as_too_deep(
    intake: AsyncTestClient[Any], url: str, body: bytes
) -> None:
    response = await intake.post(url, content=body, headers={**auth("alpha"), **JSON})
    assert problem(response, 400)["detail"] == "the JSON is nested too deeply"


async def test_a_900_kb_description_is_named_by_its_path(intake: AsyncTestClient[Any]) -> None:
    body = report()
    body["incident"]["description"] = "x" * 900_000
    single = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    batch = await intake.post(
        "/v1/reports/batch", json={"reports": [body, report()]}, headers=auth("alpha")
    )
    (error,) = problem(single, 422)["errors"]
    assert error == {
        "path": "$.incident.description",
        "message": "Expected `str` of length <= 20000",
    }
    results = batch.json()["results"]
    assert [r["outcome"] for r in results] == ["invalid", "accepted"]
    assert results[0]["problems"][0]["path"] == "$.incident.description"


async def test_bytes_that_are_not_utf8_are_named_with_their_offset(
    intake: AsyncTestClient[Any],
) -> None:
    body = json.dumps(report(), ensure_ascii=False).encode()
    where = body.index("bråk".encode()) + 2
    latin1 = body[:where] + "å".encode("latin-1") + body[where + 2 :]
    response = await intake.post("/v1/reports", content=latin1, headers={**auth("alpha"), **JSON})
    assert problem(response, 400)["detail"] == f"the body is not valid UTF-8 (byte {where})"


async def test_nul_bytes_are_refused_where_they_are(intake: AsyncTestClient[Any]) -> None:
    raw = b'{"source": "alpha-src", "external_id": "a\x00b"}'
    at = raw.index(b"\x00")
    body = report(external_id="nul\u0000")
    body["incident"]["description"] = "\u0000"
    body["persons"][0]["name"] = "Anne\u0000Testesen"
    sent = json.dumps(body).encode()
    raw_response = await intake.post("/v1/reports", content=raw, headers={**auth("alpha"), **JSON})
    escaped = await intake.post("/v1/reports", content=sent, headers={**auth("alpha"), **JSON})
    assert problem(raw_response, 400)["detail"].endswith(f"(byte {at})")
    # Once for the body, where it first stands, however many texts hold it.
    (error,) = problem(escaped, 422)["errors"]
    assert error["path"] == "$"
    assert "U+0000" in error["message"]
    first = sent.index(b"\\u0000")
    assert f"byte {first}" in error["message"]


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        (None, "there is no Content-Type"),
        ("text/plain", "this Content-Type is not accepted"),
        ("application/x-www-form-urlencoded", "this Content-Type is not accepted"),
        ("multipart/form-data; boundary=x", "this Content-Type is not accepted"),
        ("application/xml", "this Content-Type is not accepted"),
        ("application/jsonp", "this Content-Type is not accepted"),
        ("application/12345678901", "this Content-Type is not accepted"),
    ],
)
async def test_wrong_and_missing_content_types_say_what_is_accepted(
    intake: AsyncTestClient[Any], content_type: str | None, named: str
) -> None:
    headers = auth("alpha") | ({"content-type": content_type} if content_type else {})
    body = json.dumps(report()).encode()
    for url in ("/v1/reports", "/v1/reports/batch", "/v1/sources/citizen/reports"):
        response = await intake.post(url, content=body, headers=headers)
        detail = problem(response, 415)["detail"]
        assert named in detail
        assert "send `application/json`" in detail
        # What was sent is never repeated: a header is the client's text.
        if content_type:
            assert content_type.split(";")[0] not in detail


async def _tables(database_url: str) -> tuple[list[str], int]:
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        count = await conn.fetchval("SELECT count(*) FROM reports")
    finally:
        await conn.close()
    return sorted(t["table_name"] for t in tables), count


async def test_sql_shaped_text_in_every_field_is_stored_verbatim(
    intake: AsyncTestClient[Any], database_url: str
) -> None:
    before, count = await _tables(database_url)
    body = report(external_id=SQL[0])
    body["incident"].update(description=SQL[1], address=SQL[2])
    body["offences"] = [{"code": SQL[3][:64]}, {"label": SQL[4]}]
    body["persons"] = [{"role": "victim", "name": SQL[5], "national_id": "1'OR'1'='1"}]
    body["persons"].append({"role": "witness", "phone": SQL[6][:40], "name": SQL[7]})
    posted = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    assert posted.status_code == 202, posted.text
    stored = (await intake.get(posted.headers["location"], headers=auth("alpha"))).json()["report"]
    assert stored["external_id"] == SQL[0]
    assert (stored["incident"]["description"], stored["incident"]["address"]) == (SQL[1], SQL[2])
    assert [o.get("code") for o in stored["offences"]] == [SQL[3][:64], None]
    assert stored["offences"][1]["label"] == SQL[4]
    assert [p.get("name") for p in stored["persons"]] == [SQL[5], SQL[7]]
    assert (stored["persons"][0]["national_id"], stored["persons"][1]["phone"]) == (
        "1'OR'1'='1",
        SQL[6][:40],
    )
    assert await _tables(database_url) == (before, count + 1)


async def test_sql_shaped_text_in_a_source_format_and_in_a_path(
    intake: AsyncTestClient[Any], database_url: str
) -> None:
    before, count = await _tables(database_url)
    form = json.loads((EXAMPLES / "sources" / "citizen.json").read_text("utf-8"))
    form.update(referanse=SQL[0], beskrivelse=SQL[1], adresse=SQL[2], kategori=SQL[4])
    form["anmelder"] = {"fornavn": SQL[5], "etternavn": SQL[7]}
    posted = await intake.post("/v1/sources/citizen/reports", json=form, headers=auth("alpha"))
    assert posted.status_code == 202, posted.text
    stored = (await intake.get(posted.headers["location"], headers=auth("alpha"))).json()["report"]
    assert (stored["external_id"], stored["incident"]["description"]) == (SQL[0], SQL[1])
    assert stored["incident"]["address"] == SQL[2]
    assert stored["offences"] == [{"label": SQL[4]}]
    assert stored["persons"][0]["name"] == f"{SQL[5]} {SQL[7]}"
    by_path = await intake.get("/v1/reports/1'%20OR%20'1'='1", headers=auth("alpha"))
    assert problem(by_path, 404)["type"] == "about:blank"
    assert await _tables(database_url) == (before, count + 1)


# --- on a real server, through a bare socket where HTTP clients would not go ------------------


@pytest.fixture
def server(intake_settings: Callable[..., IntakeSettings]) -> Iterator[str]:
    """A real intake with a short body timeout and a 4 MiB batch limit; checked afterwards for
    a new 5xx in the metrics (a hung-up client never sees the answer, the metrics do)."""
    http = HttpSettings(max_batch_body_bytes=BATCH_LIMIT, body_timeout_seconds=BODY_SECONDS)
    settings = msgspec.structs.replace(intake_settings(), http=http)
    with served(create_app(settings, configure_logging=False)) as url:
        before = answered(url, "5..")
        yield url
        assert answered(url, "5..") == before


def answered(url: str, status: str, path: str = '[^"]*') -> float:
    """How many requests the intake has answered with `status` (a pattern) on `path`, by its
    metrics (one registry per process: count the change, not the total)."""
    series = re.compile(
        rf'^fsi_intake_requests_total\{{[^}}]*path="{path}",status_code="{status}"\}} (\S+)$', re.M
    )
    return sum(float(n) for n in series.findall(httpx.get(f"{url}/metrics").text))


class Raw:
    """A client on a bare socket: headers, then the body at whatever pace the test likes."""

    def __init__(self, url: str, path: str, headers: dict[str, str]) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {host}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answered(self) -> bool:
        return bool(select.select([self.sock], [], [], 0)[0])

    def response(self) -> httpx.Response:
        """The answer, read until its Content-Length is in."""
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
            chunk = self.sock.recv(65536)
            assert chunk, f"the server closed the connection without an answer: {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = [(name, value) for name, value in (h.split(": ", 1) for h in header_lines)]
        return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)

    def close(self) -> None:
        self.sock.close()


def _length(data: bytes) -> int:
    found = re.search(rb"\r\ncontent-length: (\d+)", data.partition(b"\r\n\r\n")[0], re.I)
    return int(found.group(1)) if found else 0


def submitter(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS['alpha']}", **JSON, **(extra or {})}


def accepted_and_kept(url: str) -> None:
    """Another client, served meanwhile: its report accepted at once and readable."""
    started = time.monotonic()
    posted = httpx.post(f"{url}/v1/reports", json=report(), headers=auth("alpha"), timeout=5)
    assert posted.status_code == 202, posted.text
    assert time.monotonic() - started < BODY_SECONDS - 1  # not held up by the slow ones
    got = httpx.get(f"{url}{posted.headers['location']}", headers=auth("alpha"), timeout=5)
    assert got.status_code == 200


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/v1/reports", LIMIT),
        ("/v1/sources/patrol/reports", LIMIT),
        ("/v1/reports/batch", BATCH_LIMIT),
    ],
)
def test_content_length_over_the_limit_is_refused_before_any_body(
    server: str, path: str, limit: int
) -> None:
    # A client that waits for `100 Continue` is answered at once, and never told to send.
    expects = {"Content-Length": str(limit + 1), "Expect": "100-continue"}
    client = Raw(server, path, submitter(expects))
    started = time.monotonic()
    try:
        response = client.response()  # nothing of the body was sent
    finally:
        client.close()
    assert problem(response, 413)["detail"] == f"at most {limit} bytes"
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("path", "limit"), [("/v1/reports", LIMIT), ("/v1/reports/batch", BATCH_LIMIT)]
)
def test_a_chunked_body_is_refused_once_past_the_limit(server: str, path: str, limit: int) -> None:
    client = Raw(server, path, submitter({"Transfer-Encoding": "chunked"}))
    chunk = b"x" * 65536
    try:
        for _ in range(2 * limit // len(chunk)):
            client.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        client.send(b"0\r\n\r\n")
        response = client.response()  # read (and dropped) to its end, then refused
    finally:
        client.close()
    assert problem(response, 413)["detail"] == f"at most {limit} bytes"


def test_a_chunked_body_that_never_ends_is_refused_once_past_the_bound(server: str) -> None:
    before = answered(server, "413", "/v1/reports")
    client = Raw(server, "/v1/reports", submitter({"Transfer-Encoding": "chunked"}))
    chunk, sent = b"x" * 65536, 0
    most = LIMIT + DRAIN_BYTES + 16 * 1_048_576  # the bound, and socket buffers beside it
    try:
        while not client.answered() and sent < most:
            client.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
    except ConnectionError:
        pass  # answered and closed with the rest unread: past the bound, that is all there is
    finally:
        client.close()
    assert sent < most
    assert answered(server, "413", "/v1/reports") == before + 1


def test_clients_that_stop_mid_body_get_408_and_others_are_served(server: str) -> None:
    started = time.monotonic()
    stalled = [Raw(server, "/v1/reports", submitter({"Content-Length": "500"})) for _ in range(20)]
    try:
        for client in stalled:
            client.send(b'{"source": "alpha-src", ')
        accepted_and_kept(server)
        answers = [client.response() for client in stalled]
    finally:
        for client in stalled:
            client.close()
    assert time.monotonic() - started < BODY_SECONDS + 2
    for answer in answers:
        assert (
            problem(answer, 408)["detail"] == f"the body did not arrive within {BODY_SECONDS:g} s"
        )
        assert answer.headers["connection"] == "close"


def test_a_client_that_dribbles_its_body_is_cut_off_in_bounded_time(server: str) -> None:
    body = json.dumps(report()).encode()
    client = Raw(server, "/v1/reports", submitter({"Content-Length": str(len(body))}))
    started, sent = time.monotonic(), 0
    try:
        while not client.answered() and sent < len(body):
            client.send(body[sent : sent + 1])
            sent += 1
            time.sleep(0.02)
            if sent == 25:
                accepted_and_kept(server)
        response = client.response()
    finally:
        client.close()
    assert problem(response, 408)["type"].endswith("/body-timeout")
    assert time.monotonic() - started < BODY_SECONDS + 2
    assert sent < len(body)


def test_a_slow_body_that_arrives_in_time_is_accepted(server: str) -> None:
    body = json.dumps(
        {
            "source": "alpha-src",
            "external_id": unique("slow"),
            "reported_at": "2026-11-26T10:00:00+01:00",
            "incident": {"occurred_from": "2026-11-26T09:00:00", "description": "sakte"},
            "offences": [{"code": "strl-321"}],
        }
    ).encode()
    client = Raw(server, "/v1/reports", submitter({"Content-Length": str(len(body))}))
    try:
        for start in range(0, len(body), 16):
            client.send(body[start : start + 16])
            time.sleep(0.05)
        response = client.response()
    finally:
        client.close()
    assert response.status_code == 202, response.text
    got = httpx.get(f"{server}{response.headers['location']}", headers=auth("alpha"), timeout=5)
    assert got.json()["report"]["incident"]["description"] == "sakte"


def test_a_client_that_hangs_up_mid_body_is_no_server_error(server: str) -> None:
    before = answered(server, "400", "/v1/reports")
    client = Raw(server, "/v1/reports", submitter({"Content-Length": "500"}))
    client.send(b'{"source": "alpha-src", ')
    time.sleep(0.2)
    client.close()
    deadline = time.monotonic() + 5
    while answered(server, "400", "/v1/reports") == before:
        assert time.monotonic() < deadline, "the hung-up request was never answered"
        time.sleep(0.1)
    accepted_and_kept(server)


def test_a_report_id_that_is_not_a_uuid_is_a_plain_404(server: str) -> None:
    for path in ("/v1/reports/%00", "/v1/reports/" + "a" * 10_000, "/v1/reports/..%2f..%2fetc"):
        response = httpx.get(f"{server}{path}", headers=auth("alpha"))
        assert "no such path" in problem(response, 404)["detail"]
        assert "etc" not in response.text  # the path is not echoed back
