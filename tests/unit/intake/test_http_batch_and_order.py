"""The batch rules and the order of refusals over HTTP, in process over the in-memory store:
a batch refused as a whole (422, 413, 429) or answered item by item, and the key (401), the
rate (429), the format or role (403) judged before the body, several Authorization fields
(400) before them all. The same answers as tests/integration/intake/test_batch_and_sources.py
and tests/integration/security/test_access_matrix.py."""

from __future__ import annotations

import math

import pytest

from tests.support.clients import SLOW_BURST, SLOW_RATE, auth
from tests.unit.intake.fakes import MemoryReportStore
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

ROUTES = ["/v1/reports", "/v1/reports/batch", "/v1/sources/citizen/reports"]


# --- the batch rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "errors"),
    [
        (b'{"reports": []}', [("$.reports", "Expected `array` of length >= 1")]),
        (b"[{}]", [("$", "Expected `object`, got `array`")]),
        (b"{}", [("$.reports", "Object missing required field")]),
        (b'{"reports": {}}', [("$.reports", "Expected `array`, got `object`")]),
        (b'{"reports": [], "reports": []}', [("$.reports", REPEATED)]),
        (
            b'{"reports": [{}], "' + IDENTITY.encode() + b'": 1}',
            [("$.…", "Object contains unknown field")],
        ),
    ],
    ids=["empty", "not an object", "no reports", "not an array", "twice", "unknown key"],
)
def test_a_batch_that_is_not_one_object_of_reports_is_422_as_a_whole(
    intake: Client, sent: bytes, errors: list[tuple[str, str]]
) -> None:
    answer = intake.post("/v1/reports/batch", content=sent, headers=auth("alpha") | JSON)
    found = problem(answer, 422, "invalid-report")["errors"]
    assert [(e["path"], e["message"]) for e in found] == errors
    assert IDENTITY not in answer.text


def test_every_item_of_a_batch_has_its_own_result_in_order(intake: Client) -> None:
    earlier = report(external_id="earlier")
    assert intake.post("/v1/reports", json=earlier, headers=auth("alpha")).status_code == 202
    good = [report(external_id=f"good-{i}") for i in range(3)]
    invalid = report(external_id="invalid", offences=[])
    conflict = report(external_id="earlier")
    conflict["incident"]["description"] = "endret"
    items = [good[0], invalid, earlier, conflict, report("beta-src"), good[1], good[0], good[2]]
    answer = intake.post("/v1/reports/batch", json={"reports": items}, headers=auth("alpha"))
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(r["index"], r["outcome"]) for r in results] == list(
        enumerate(
            [
                "accepted",
                "invalid",
                "duplicate",
                "conflict",
                "forbidden",
                "accepted",
                "duplicate",
                "accepted",
            ]
        )
    )
    assert results[1]["problems"] == [
        {"path": "$.offences", "message": "Expected `array` of length >= 1"}
    ]
    assert results[4]["problems"] == [{"path": "$.source", "message": "source not allowed"}]
    assert results[6]["report_id"] == results[0]["report_id"]
    assert answer.json()["summary"] == {
        "accepted": 3,
        "invalid": 1,
        "duplicate": 2,
        "conflict": 1,
        "forbidden": 1,
    }


def test_an_item_larger_than_one_report_is_invalid_and_the_others_are_kept(
    small: Client,
) -> None:
    large = report(external_id="large")
    large["incident"]["description"] = "y" * SMALL.max_body_bytes
    items = [report(external_id="small"), large]
    answer = small.post("/v1/reports/batch", json={"reports": items}, headers=auth("alpha"))
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["outcome"] for r in results] == ["accepted", "invalid"]
    assert results[1]["problems"] == [
        {"path": "$", "message": f"larger than one report may be ({SMALL.max_body_bytes} bytes)"}
    ]


def test_a_batch_costs_a_token_of_the_rate_per_report(intake: Client) -> None:
    # A batch larger than the burst goes through from a full bucket and leaves it owing.
    items = [report("slow-src", f"s{i}") for i in range(SLOW_BURST + 1)]
    full = intake.post("/v1/reports/batch", json={"reports": items}, headers=auth("slow"))
    assert full.status_code == 200, full.text
    owing = intake.post("/v1/reports", json=report("slow-src", "next"), headers=auth("slow"))
    problem(owing, 429, "rate-limited")
    # Owing one token and wanting one: two tokens' time (RFC 9110 section 10.2.3, seconds).
    assert owing.headers["retry-after"] == str(math.ceil(2 / SLOW_RATE))


def test_a_batch_the_rate_cannot_pay_for_now_is_429_as_a_whole(intake: Client) -> None:
    first = intake.post("/v1/reports", json=report("slow-src", "first"), headers=auth("slow"))
    assert first.status_code == 202
    items = [report("slow-src", f"s{i}") for i in range(SLOW_BURST)]
    answer = intake.post("/v1/reports/batch", json={"reports": items}, headers=auth("slow"))
    detail = problem(answer, 429, "rate-limited")["detail"]
    assert f"one of this client's rate per report ({SLOW_BURST} here)" in detail
    assert 1 <= int(answer.headers["retry-after"]) <= math.ceil(SLOW_BURST / SLOW_RATE)
    # Refused as a whole: none of its reports was stored.
    store = intake.app.state.intake.service.store
    assert isinstance(store, MemoryReportStore)
    assert list(store.reports) == [("slow-src", "first")]


# --- the order of refusals --------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", [None, "Bearer nope", "Basic YWxwaGE6YWxwaGE="], ids=["none", "unknown", "basic"]
)
def test_no_known_key_is_401_before_the_body_is_judged(intake: Client, key: str | None) -> None:
    given = {"Authorization": key} if key else {}
    # Of the wrong type and too large for one report: the key is judged first.
    body = b"x" * (DEFAULTS.max_body_bytes + 1)
    for path in ROUTES:
        answer = intake.post(path, content=body, headers=given | {"Content-Type": "text/plain"})
        problem(answer, 401, "unauthenticated")
        # RFC 6750 section 3: the scheme the client is to use, with the realm.
        assert answer.headers["www-authenticate"] == 'Bearer realm="fsi-intake"'


def test_several_authorization_fields_are_400_before_any_is_read(intake: Client) -> None:
    # Two fields, sent as such to the ASGI app: the test client would join them into one
    # (RFC 9110 section 5.3).
    keys = [("Authorization", auth("alpha")["Authorization"]), ("Authorization", "Bearer x")]
    body = encoded(report())
    for fields in (keys, keys[::-1]):
        typed = [*fields, ("Content-Type", "application/json")]
        answer = raw(intake, "/v1/reports", [*typed, ("Content-Length", str(len(body)))], [body])
        detail = problem(answer, 400, "several-authorization-headers")["detail"]
        assert "`Authorization`" in detail


def test_the_rate_is_judged_after_the_key_and_before_format_type_and_size(intake: Client) -> None:
    codes = [
        intake.post("/v1/reports", json=report("slow-src", f"r{i}"), headers=auth("slow"))
        for i in range(SLOW_BURST + 1)
    ]
    assert [c.status_code for c in codes] == [202] * SLOW_BURST + [429]
    assert codes[-1].headers["retry-after"] == str(math.ceil(1 / SLOW_RATE))
    # Out of tokens: a format it may not use, a wrong type, a body too large are all 429.
    refused = [
        intake.post("/v1/sources/patrol/reports", json={}, headers=auth("slow")),
        intake.post("/v1/reports", content=b"{}", headers=auth("slow") | {"Content-Type": "x/y"}),
        intake.post(
            "/v1/reports",
            content=b" " * (DEFAULTS.max_body_bytes + 1),
            headers=auth("slow") | JSON,
        ),
    ]
    for answer in refused:
        problem(answer, 429, "rate-limited")
    # The rate is each client's own: another is served meanwhile.
    assert intake.post("/v1/reports", json=report(), headers=auth("alpha")).status_code == 202


def test_the_format_and_the_role_are_judged_before_the_body(intake: Client) -> None:
    wrong_type = auth("citizen-only") | {"Content-Type": "text/plain"}
    canonical = intake.post("/v1/reports", content=b"{}", headers=wrong_type)
    patrol = intake.post("/v1/sources/patrol/reports", content=b"{}", headers=wrong_type)
    operator = intake.post("/v1/reports", content=b"{}", headers=auth("ops") | JSON)
    assert problem(canonical, 403, "forbidden-format")["detail"] == (
        "this client may not send `canonical` reports"
    )
    assert problem(patrol, 403, "forbidden-format")["detail"] == (
        "this client may not send `patrol` reports"
    )
    problem(operator, 403, "forbidden-format")
    # The source is judged once the body is read: after its type, size and content.
    other = intake.post("/v1/reports", json=report("beta-src"), headers=auth("alpha"))
    assert "beta-src" in problem(other, 403, "forbidden-source")["detail"]
