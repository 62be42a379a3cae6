"""Bad input on the triage routes against the real PostgreSQL, through the app: bodies refused
as a report's body is (nesting, keys given twice, unknown fields, texts in words), parameters
of the wrong type, an API key where a person's token belongs, values quoted back cut short,
deadlines out of bounds, links into another district, a preview's case without an id."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.integration.intake.triage_support import app, bearer, report_body, waiting
from tests.support.clients import auth

__all__ = ["app"]  # fixture

PROBLEMS = "https://fsi-intake.politiet.example/problems/"
JSON = {"Content-Type": "application/json"}
# Every triage route that reads a JSON body, with who may call it; `{id}` a report's id.
BODIES = {
    "claim": "anne",
    "correct": "anne",
    "correct?preview=true": "anne",
    "route": "anne",
    "transfer": "anne",
    "link": "anne",
    "close": "anne",
    "approve": "pia",
    "reject": "pia",
}
REVIEWED = "/v1/triage/reviews/{id}/reviewed"
REPEATED = "Object key given more than once (RFC 7493 section 2.3): send each key once"
IN_WORDS = (
    "Expected text with a visible character and no control characters (U+0000-U+001F, "
    "U+007F-U+009F) other than tab and line breaks (LF, CR)"
)


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    found: dict[str, Any] = answer.json()
    return found


def routes(report_id: uuid.UUID) -> list[tuple[str, str]]:
    """(path, person) of every body-reading triage route for `report_id`."""
    paths = [(f"/v1/triage/{report_id}/{tail}", who) for tail, who in BODIES.items()]
    return [*paths, (REVIEWED.format(id=uuid.uuid4()), "pia")]


async def claim(client: AsyncTestClient[Any], who: str, report_id: uuid.UUID) -> str:
    answer = await client.post(f"/v1/triage/{report_id}/claim", headers=bearer(who))
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


async def state(owner: asyncpg.Connection, report_id: uuid.UUID) -> dict[str, Any]:
    """The report's work item and its acts, as a refusal must leave them."""
    item = await owner.fetchrow("SELECT * FROM work_items WHERE report_id = $1", report_id)
    acts = await owner.fetchval("SELECT count(*) FROM person_acts WHERE report_id = $1", report_id)
    return {"item": dict(item) if item else None, "acts": acts}


async def test_json_nested_too_deeply_is_the_reports_400_on_every_triage_body(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    before = await state(owner, report_id)
    deep = b'{"claim": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    report = problem(await app.post("/v1/reports", content=deep, headers=auth("alpha") | JSON), 400)
    assert report["detail"] == "the JSON is nested too deeply"
    for path, who in routes(report_id):
        answer = await app.post(path, content=deep, headers=bearer(who) | JSON)
        found = problem(answer, 400)
        assert (found["type"], found["detail"]) == (report["type"], report["detail"]), path
    assert await state(owner, report_id) == before


async def test_a_key_given_twice_is_refused_on_every_triage_body(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    before = await state(owner, report_id)
    twice = f'{{"claim": "{token}", "claim": "{token}", "reason": "a", "reason": "a"}}'
    for path, who in routes(report_id):
        if path.endswith("/claim"):  # no fields: any key is not one of ours, named so
            sent, expected = '{"a": 1, "a": 1}', ["$.…"]
        elif who == "pia":  # approvals take a reason only
            sent, expected = '{"reason": "a", "reason": "a"}', ["$.reason"]
        else:
            sent, expected = twice, ["$.claim", "$.reason"]
        answer = await app.post(path, content=sent.encode(), headers=bearer(who) | JSON)
        errors = problem(answer, 422)["errors"]
        assert [e["path"] for e in errors if e["message"] == REPEATED] == expected, path
    assert await state(owner, report_id) == before


async def test_an_unknown_field_is_named_and_changes_nothing(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    before = await state(owner, report_id)
    minutes = await app.post(
        f"/v1/triage/{report_id}/claim", json={"minutes": 999}, headers=bearer("anne")
    )
    assert [e["path"] for e in problem(minutes, 422)["errors"]] == ["$.minutes"]
    assert await state(owner, report_id) == before

    token = await claim(app, "anne", report_id)
    claimed = await state(owner, report_id)
    sent = {
        "route": {"claim": token, "priorty": "high"},
        "transfer": {"claim": token, "to": {"distrikt": "vest"}, "reason": "Feil distrikt."},
        "approve": {"grunn": "ok"},
    }
    named = {"route": "$.priorty", "transfer": "$.to.distrikt", "approve": "$.grunn"}
    for kind, body in sent.items():
        who = "pia" if kind == "approve" else "anne"
        answer = await app.post(f"/v1/triage/{report_id}/{kind}", json=body, headers=bearer(who))
        assert [e["path"] for e in problem(answer, 422)["errors"]] == [named[kind]], kind
    # A key that is no plain word (an identity number, say) is never repeated back.
    numbered = await app.post(
        f"/v1/triage/{report_id}/route",
        json={"claim": token, "24869023120": 1},
        headers=bearer("anne"),
    )
    assert "24869023120" not in numbered.text
    assert [e["path"] for e in problem(numbered, 422)["errors"]] == ["$.…"]
    assert await state(owner, report_id) == claimed
    empty = await app.post(f"/v1/triage/{report_id}/claim", json={}, headers=bearer("anne"))
    assert empty.json()["token"] == token  # `{}` is no body at all: the holder renews


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("route", {"priority": "low"}),
        ("transfer", {"to": {"district": "vest"}}),
        ("close", {"ground": "no-offence"}),
    ],
)
@pytest.mark.parametrize("reason", ["   ", "Feil\u0000distrikt", ""])
async def test_a_reason_without_visible_text_or_with_controls_is_refused_in_words(
    app: AsyncTestClient[Any],
    owner: asyncpg.Connection,
    kind: str,
    body: dict[str, Any],
    reason: str,
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    before = await state(owner, report_id)
    sent = {"claim": token, **body, "reason": reason}
    answer = await app.post(f"/v1/triage/{report_id}/{kind}", json=sent, headers=bearer("anne"))
    found = problem(answer, 422)
    assert "regex" not in answer.text
    assert "^[" not in answer.text
    (error,) = found["errors"]
    if "\u0000" in reason:  # one problem for U+0000 anywhere in a body, as for a report
        assert (error["path"], error["message"][:6]) == ("$", "U+0000")
        assert "of the body as sent" in error["message"]
    elif reason:
        assert error == {"path": "$.reason", "message": IN_WORDS}
    else:
        assert error["path"] == "$.reason"
    assert await state(owner, report_id) == before


async def test_a_blank_rejection_reason_is_refused_in_words(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    answer = await app.post(
        f"/v1/triage/{uuid.uuid4()}/reject", json={"reason": " \t "}, headers=bearer("pia")
    )
    assert problem(answer, 422)["errors"] == [{"path": "$.reason", "message": IN_WORDS}]


async def test_parameters_of_the_wrong_type_are_problems_naming_them_and_their_value(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    before = await state(owner, report_id)
    listed = problem(await app.get("/v1/triage?limit=abc", headers=bearer("anne")), 400)
    assert listed["type"] == PROBLEMS + "invalid-parameter"
    assert listed["errors"] == [
        {
            "parameter": "limit",
            "in": "query",
            "message": "Expected `int`, got `str`",
            "value": "'abc'",
        }
    ]
    assert "extra" not in listed
    assert "/v1/triage" not in listed["detail"]
    preview = await app.post(
        f"/v1/triage/{report_id}/correct?preview=maybe",
        json={"claim": token, "changes": {"flags.weapon": True}},
        headers=bearer("anne"),
    )
    (error,) = problem(preview, 400)["errors"]
    assert (error["parameter"], error["in"], error["value"]) == ("preview", "query", "'maybe'")
    assert "true" in error["message"]
    long = problem(await app.get("/v1/triage?limit=" + "9x" * 500, headers=bearer("anne")), 400)
    assert long["errors"][0]["value"] == "'" + "9x" * 40 + "…' (1000 characters)"
    assert await state(owner, report_id) == before


async def test_an_api_key_on_a_persons_route_is_told_it_takes_an_access_token(
    app: AsyncTestClient[Any],
) -> None:
    for path in ("/v1/triage", f"/v1/triage/{uuid.uuid4()}/claim", "/v1/triage/reviews"):
        method = app.post if path.endswith("/claim") else app.get
        found = problem(await method(path, headers=auth("alpha")), 401)
        assert "not an API key" in found["detail"], path
        assert "alpha-key" not in found["detail"]


async def test_a_long_value_quoted_back_is_cut_for_corrections_and_reports(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    code = "strl-" + "9" * 99_995
    answer = await app.post(
        f"/v1/triage/{report_id}/correct",
        json={"claim": token, "changes": {"offences": [code]}},
        headers=bearer("anne"),
    )
    errors = problem(answer, 422)["errors"]
    assert any(f"'{code[:80]}…' (100000 characters)" in e["message"] for e in errors), errors

    assert len(answer.content) < 2_000
    # A report's quality issue quotes the sender's label cut the same way.
    label = "Tyveri av" + " sykkel" * 27  # 198 characters: within a label's 200
    sent = report_body() | {"offences": [{"label": label}]}
    accepted = await app.post("/v1/reports", json=sent, headers=auth("alpha"))
    assert accepted.status_code == 202, accepted.text
    read = await app.get(f"/v1/reports/{accepted.json()['report_id']}", headers=auth("alpha"))
    issues = [i for i in read.json()["quality_issues"] if i["code"] == "offence.unknown_label"]
    assert issues[0]["message"] == f"no offence code for '{label[:80]}…' ({len(label)} characters)"


@pytest.mark.parametrize(
    ("deadline", "why"),
    [
        ("9999-12-01T10:00:00Z", "no later than the year 2100"),
        ("2101-01-01T00:30:00+01:00", "no later than the year 2100"),  # 2100 in UTC: taken
        ("2020-01-01T10:00:00Z", "after the report was received"),
    ],
)
async def test_a_deadline_out_of_bounds_is_refused_naming_it(
    app: AsyncTestClient[Any], owner: asyncpg.Connection, deadline: str, why: str
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    before = await state(owner, report_id)
    sent = {"claim": token, "deadline_at": deadline, "reason": "Etter avtale med enheten."}
    answer = await app.post(f"/v1/triage/{report_id}/route", json=sent, headers=bearer("anne"))
    if deadline.startswith("2101-01-01T00:30:00+01:00"):
        assert answer.status_code == 200, answer.text
        return
    (error,) = problem(answer, 422)["errors"]
    assert error["path"] == "$.deadline_at"
    assert why in error["message"]
    assert await state(owner, report_id) == before


async def test_a_link_into_another_district_is_answered_as_no_such_report(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    oslo = await waiting(app, owner, municipality="0301")
    await owner.execute(
        "INSERT INTO case_deliveries (report_id, unit) VALUES ($1, 'oslo.vold-og-seksual')", oslo
    )
    vest = await waiting(app, owner, district="vest", municipality="4601")
    token = await claim(app, "per", vest)
    before = await state(owner, vest)
    into_oslo = await app.post(
        f"/v1/triage/{vest}/link",
        json={"claim": token, "report_id": str(oslo)},
        headers=bearer("per"),
    )
    nowhere = uuid.uuid4()
    missing = await app.post(
        f"/v1/triage/{vest}/link",
        json={"claim": token, "report_id": str(nowhere)},
        headers=bearer("per"),
    )
    seen, none = problem(into_oslo, 404), problem(missing, 404)
    assert "oslo" not in into_oslo.text
    assert (
        seen["errors"]
        == none["errors"]
        == [{"path": "$.report_id", "message": "no report of this id that you may see"}]
    )
    assert seen["detail"].replace(str(oslo), "?") == none["detail"].replace(str(nowhere), "?")
    assert await state(owner, vest) == before
    # A national prosecutor sees every district: the same link is theirs to make.
    national = await waiting(app, owner, district="vest", municipality="4601")
    nina = await claim(app, "nina", national)
    linked = await app.post(
        f"/v1/triage/{national}/link",
        json={"claim": nina, "report_id": str(oslo)},
        headers=bearer("nina"),
    )
    assert linked.status_code == 200, linked.text
    assert linked.json()["case"]["unit"] == "oslo.vold-og-seksual"


async def test_a_preview_shows_no_case_id_and_the_stored_case_has_its_own(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, district=None)
    token = await claim(app, "anne", report_id)
    change = {"claim": token, "changes": {"incident.municipality": "0301"}}
    path = f"/v1/triage/{report_id}/correct"
    preview = await app.post(path + "?preview=true", json=change, headers=bearer("anne"))
    assert preview.status_code == 200, preview.text
    assert preview.json()["case"]["decision_id"] is None
    assert preview.json()["act_id"] is None
    stored = await app.post(path, json=change, headers=bearer("anne"))
    assert stored.status_code == 200, stored.text
    assert stored.json()["case"]["decision_id"] == stored.json()["act_id"]


async def test_another_body_under_a_claims_default_key_says_the_claim_is_the_key(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    token = await claim(app, "anne", report_id)
    path = f"/v1/triage/{report_id}/route"
    first = await app.post(path, json={"claim": token}, headers=bearer("anne"))
    assert first.status_code == 200, first.text
    after = await state(owner, report_id)
    other = {"claim": token, "priority": "high", "reason": "Haster."}
    found = problem(await app.post(path, json=other, headers=bearer("anne")), 422)
    assert found["type"] == PROBLEMS + "idempotency-key-reused"
    assert "claim's token" in found["detail"]
    assert "was used by you" not in found["detail"]
    assert await state(owner, report_id) == after
    # With a header of its own the request is a new one: refused for what it is (no claim).
    fresh = await app.post(path, json=other, headers=bearer("anne", key=str(uuid.uuid4())))
    assert problem(fresh, 409)["type"] != PROBLEMS + "idempotency-key-reused"


async def test_a_machine_client_sees_its_own_id_but_no_persons(
    app: AsyncTestClient[Any], owner: asyncpg.Connection
) -> None:
    report_id = await waiting(app, owner, municipality="0301")
    await claim(app, "anne", report_id)
    read = await app.get(f"/v1/reports/{report_id}", headers=auth("alpha"))
    assert read.status_code == 200, read.text
    by = {e["event"]: e["by"] for e in read.json()["history"]}
    assert by["accepted"] == {"kind": "client", "id": "alpha", "role": "submitter"}
    assert by["claimed"] == {"kind": "person", "id": None, "role": "assessor"}
    assert "anne" not in read.text
