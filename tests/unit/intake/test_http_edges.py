"""The intake's HTTP edge cases in process, over the in-memory store: bodies too large (413),
of a type or coding it does not take (415), too slow or cut off (408, 400), not a report
(400, 422). The same answers as the integration tests of these cases
(tests/integration/intake, tests/integration/security), expected from the settings and the
RFCs; the batch rules and the order of refusals are in test_http_batch_and_order.py."""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Callable

import pytest

from tests.support.clients import auth
from tests.unit.intake.inprocess import (
    DEFAULTS,
    IDENTITY,
    JSON,
    REPEATED,
    SMALL,
    Client,
    encoded,
    problem,
    raw,
    report,
)

SINGLE_ROUTES = ["/v1/reports", "/v1/sources/patrol/reports"]
ROUTES = ["/v1/reports", "/v1/reports/batch", "/v1/sources/citizen/reports"]


# --- the app starts over the store in memory --------------------------------------------------


def test_the_app_runs_over_the_memory_store_without_a_broker(intake: Client) -> None:
    assert intake.get("/healthz").json() == {"status": "alive"}
    ready = intake.get("/readyz")
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "database": "up", "broker": "disabled", "broker_problem": None},
    )
    posted = intake.post("/v1/reports", json=report(), headers=auth("alpha"))
    assert posted.status_code == 202, posted.text
    assert posted.headers["location"] == f"/v1/reports/{posted.json()['report_id']}"
    again = intake.post("/v1/reports", json=report(), headers=auth("alpha"))
    changed = report()
    changed["incident"]["description"] = "noe annet"
    conflict = intake.post("/v1/reports", json=changed, headers=auth("alpha"))
    assert (again.status_code, again.json()) == (200, posted.json())
    assert problem(conflict, 409, "conflict")["report_id"] == posted.json()["report_id"]
    own = intake.get(posted.headers["location"], headers=auth("alpha"))
    other = intake.get(posted.headers["location"], headers=auth("beta"))
    assert (own.status_code, other.status_code) == (200, 404)


# --- 413: too large ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", SINGLE_ROUTES)
def test_a_body_one_byte_over_the_limit_is_413_and_one_at_it_is_read(
    intake: Client, path: str
) -> None:
    limit = DEFAULTS.max_body_bytes
    at_limit = b"{}" + b" " * (limit - 2)  # JSON white space: read, then found no report
    over = intake.post(path, content=at_limit + b" ", headers=auth("alpha") | JSON)
    read = intake.post(path, content=at_limit, headers=auth("alpha") | JSON)
    assert problem(over, 413, "too-large")["detail"] == f"at most {limit} bytes"
    assert problem(read, 422, "invalid-report")["errors"]


def test_a_body_without_a_length_is_413_once_past_the_limit(small: Client) -> None:
    chunk = b" " * 4096
    parts = [chunk] * (SMALL.max_body_bytes // len(chunk) + 1)
    chunked = auth("alpha") | JSON | {"Transfer-Encoding": "chunked"}
    answer = raw(small, "/v1/reports", chunked, parts)
    assert problem(answer, 413, "too-large")["detail"] == f"at most {SMALL.max_body_bytes} bytes"


def test_a_batch_takes_more_than_one_report_up_to_its_own_limit(small: Client) -> None:
    # White space between the items: more than one report may be, less than a batch may.
    padding = b" " * (SMALL.max_body_bytes + 1)
    items = [encoded(report(external_id=f"b{i}")) for i in range(2)]
    fits = b'{"reports": [' + items[0] + b"," + padding + items[1] + b"]}"
    assert SMALL.max_body_bytes < len(fits) <= SMALL.max_batch_body_bytes
    over = fits + b" " * (SMALL.max_batch_body_bytes - len(fits) + 1)
    taken = small.post("/v1/reports/batch", content=fits, headers=auth("alpha") | JSON)
    refused = small.post("/v1/reports/batch", content=over, headers=auth("alpha") | JSON)
    assert taken.status_code == 200, taken.text
    assert taken.json()["summary"] == {"accepted": 2}
    detail = problem(refused, 413, "too-large")["detail"]
    assert detail == f"at most {SMALL.max_batch_body_bytes} bytes"


def test_a_batch_of_one_item_too_many_is_413_and_a_full_one_is_read(intake: Client) -> None:
    most = DEFAULTS.max_batch_items
    over = intake.post(
        "/v1/reports/batch", json={"reports": [{}] * (most + 1)}, headers=auth("alpha")
    )
    full = intake.post("/v1/reports/batch", json={"reports": [{}] * most}, headers=auth("alpha"))
    assert problem(over, 413, "batch-too-large")["detail"] == f"at most {most} reports per batch"
    assert full.status_code == 200, full.text
    assert full.json()["summary"] == {"invalid": most}


@pytest.mark.parametrize(
    ("coding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress)],
)
@pytest.mark.parametrize("path", SINGLE_ROUTES)
def test_a_coded_body_is_413_by_its_decoded_size(
    intake: Client, path: str, coding: str, compress: Callable[[bytes], bytes]
) -> None:
    limit = DEFAULTS.max_body_bytes
    bomb = compress(b'{"a": "' + b" " * (4 * limit) + b'"}')
    assert len(bomb) < limit // 100  # small as sent: only its decoded size is over
    coded = auth("alpha") | JSON | {"Content-Encoding": coding}
    answer = intake.post(path, content=bomb, headers=coded)
    assert problem(answer, 413, "too-large")["detail"] == f"at most {limit} bytes"


def test_a_coded_batch_is_413_by_its_decoded_size(small: Client) -> None:
    limit = SMALL.max_batch_body_bytes
    bomb = gzip.compress(b'{"reports": [' + b" " * limit + b"{}]}")
    coded = auth("alpha") | JSON | {"Content-Encoding": "gzip"}
    answer = small.post("/v1/reports/batch", content=bomb, headers=coded)
    assert problem(answer, 413, "too-large")["detail"] == f"at most {limit} bytes"


# Content-coding names are case-insensitive, and `x-gzip` is gzip (RFC 9110 section 8.4.1).
@pytest.mark.parametrize(
    ("coding", "named", "compress"),
    [
        ("gzip", "gzip", gzip.compress),
        ("x-gzip", "gzip", gzip.compress),
        ("GZIP", "gzip", gzip.compress),
        ("deflate", "deflate", zlib.compress),
    ],
)
def test_a_coded_report_is_decoded_and_accepted(
    intake: Client, coding: str, named: str, compress: Callable[[bytes], bytes]
) -> None:
    coded = auth("alpha") | JSON | {"Content-Encoding": coding}
    answer = intake.post("/v1/reports", content=compress(encoded(report())), headers=coded)
    assert answer.status_code == 202, answer.text
    plain = intake.post("/v1/reports", content=encoded(report()), headers=coded)
    detail = problem(plain, 400, "malformed-content-encoding")["detail"]
    assert detail.startswith(f"the Content-Encoding is `{named}` but the body is not ")


# --- 415: a type or coding it does not take ---------------------------------------------------


@pytest.mark.parametrize(
    "media",
    ["text/plain", "application/x-www-form-urlencoded", "text/json", "application/jsonx", None],
)
def test_a_body_that_is_not_json_by_its_type_is_415(intake: Client, media: str | None) -> None:
    typed = {"Content-Type": media} if media else {}
    for path in ROUTES:
        answer = intake.post(path, content=b"{}", headers=auth("alpha") | typed)
        detail = problem(answer, 415, "unsupported-media-type")["detail"]
        # What is taken, never what was sent (a header is the client's text).
        assert detail.endswith("send `application/json` (or a type ending in `+json`)")
        assert not media or media not in detail


@pytest.mark.parametrize("media", ["application/json; charset=utf-8", "application/report+json"])
def test_json_by_its_parameters_or_suffix_is_taken(intake: Client, media: str) -> None:
    # RFC 8259 section 11 (no charset parameter: it changes nothing), RFC 6839 (+json).
    answer = intake.post(
        "/v1/reports", content=encoded(report()), headers=auth("alpha") | {"Content-Type": media}
    )
    assert answer.status_code == 202, answer.text


@pytest.mark.parametrize("coding", ["br", "compress", "gzip, gzip", "zstd"])
def test_a_coding_it_does_not_take_is_415_with_accept_encoding(intake: Client, coding: str) -> None:
    coded = auth("alpha") | JSON | {"Content-Encoding": coding}
    for path in ROUTES:
        answer = intake.post(path, content=gzip.compress(b"{}"), headers=coded)
        detail = problem(answer, 415, "unsupported-content-encoding")["detail"]
        # RFC 7694 section 3: the codings it takes, in Accept-Encoding; never the one sent.
        assert answer.headers["accept-encoding"] == "gzip, deflate"
        assert detail.endswith("in one of: gzip, deflate")
        assert coding not in detail.removesuffix("gzip, deflate")


# --- 408: a body too slow, and one cut off -------------------------------------------------


@pytest.mark.parametrize("path", ROUTES)
def test_a_body_that_stops_arriving_is_408_after_the_body_timeout(small: Client, path: str) -> None:
    started = time.monotonic()
    stalled = auth("alpha") | JSON | {"Content-Length": "500"}
    answer = raw(small, path, stalled, [b'{"source": "alpha-src", '], then="stall")
    took = time.monotonic() - started
    detail = problem(answer, 408, "body-timeout")["detail"]
    assert detail == f"the body did not arrive within {SMALL.body_timeout_seconds:g} s"
    # RFC 9110 section 15.5.9: the server closes the connection after a 408.
    assert answer.headers["connection"] == "close"
    assert SMALL.body_timeout_seconds <= took < SMALL.body_timeout_seconds + 1


def test_a_slow_body_that_arrives_in_time_is_accepted(small: Client) -> None:
    body = encoded(report())
    parts = [body[i : i + 200] for i in range(0, len(body), 200)]
    pause = SMALL.body_timeout_seconds / (2 * len(parts))
    length = auth("alpha") | JSON | {"Content-Length": str(len(body))}
    answer = raw(small, "/v1/reports", length, parts, pause=pause)
    assert answer.status_code == 202, answer.body


def test_a_client_that_hangs_up_mid_body_is_400_not_a_server_error(small: Client) -> None:
    length = auth("alpha") | JSON | {"Content-Length": "500"}
    answer = raw(small, "/v1/reports", length, [b'{"source": "alpha-src", '], then="hang up")
    assert problem(answer, 400, "incomplete-body")["detail"] == (
        "the connection closed before the body ended"
    )


# --- 400 and 422: not JSON, not a report ------------------------------------------------------


def test_a_body_that_is_not_json_is_400(intake: Client) -> None:
    for path in ROUTES:
        answer = intake.post(path, content=b"{nope", headers=auth("alpha") | JSON)
        assert problem(answer, 400, "malformed-json")["detail"].startswith("JSON is malformed")


def test_an_invalid_report_is_422_naming_every_path(intake: Client) -> None:
    body = report()
    body["reported_at"] = "yesterday"
    body["offences"] = [{}]
    body["persons"][0]["role"] = "bystander"
    body["incident"]["municipality"] = "12"
    del body["incident"]["description"]
    body[IDENTITY] = True
    answer = intake.post("/v1/reports", json=body, headers=auth("alpha"))
    errors = problem(answer, 422, "invalid-report")["errors"]
    assert {e["path"] for e in errors} == {
        "$.reported_at",
        "$.offences[0]",
        "$.persons[0].role",
        "$.incident.municipality",
        "$.incident.description",
        "$.…",  # a key that is no field: named as such, never quoted
    }
    assert IDENTITY not in answer.text


def test_a_key_given_twice_is_422_naming_its_path(intake: Client) -> None:
    sent = encoded(report()).replace(b'"source": ', b'"source": "x", "source": ', 1)
    answer = intake.post("/v1/reports", content=sent, headers=auth("alpha") | JSON)
    assert problem(answer, 422, "invalid-report")["errors"] == [
        {"path": "$.source", "message": REPEATED}
    ]
