"""Real inputs that went wrong, posted to the intake against the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.integration.conftest import auth, unique

DATA = Path(__file__).parents[2] / "data" / "real_inputs"
REFERENCE_FIELD = {"citizen": "referanse", "agency": "meldingsId"}


def cases(name: str) -> dict[str, dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((DATA / name).read_text("utf-8"))
    return {item["label"]: item.get("body") or item["report"] for item in items}


async def post(intake: AsyncTestClient[Any], format_name: str, body: dict[str, Any]) -> Any:
    """The stored view of the report (status, report with its notes, quality issues)."""
    body = dict(body)
    if format_name == "canonical":
        body["external_id"] = unique("real")
        response = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    else:
        body[REFERENCE_FIELD[format_name]] = unique("real")
        response = await intake.post(
            f"/v1/sources/{format_name}/reports", json=body, headers=auth("alpha")
        )
    assert response.status_code == 202, response.text
    stored = await intake.get(response.headers["location"], headers=auth("alpha"))
    assert stored.status_code == 200
    return stored.json()


def codes(items: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(i["code"], i["path"]) for i in items}


@pytest.mark.parametrize(
    ("label", "municipality", "issues"),
    [
        ("kommune 'Ålesund' NFD (macOS)", "1508", set()),
        (
            "kommune 'Våler' (two municipalities)",
            None,
            {("municipality.ambiguous", "$.incident.municipality_name")},
        ),
        ("kategori 'Sykkeltyveri' with zero-width space", "4601", set()),
    ],
)
async def test_citizen_unicode(
    intake: AsyncTestClient[Any], label: str, municipality: str | None, issues: set[Any]
) -> None:
    stored = await post(intake, "citizen", cases("citizen-unicode.json")[label])
    assert stored["report"]["incident"].get("municipality") == municipality
    assert [o["code"] for o in stored["report"]["offences"]] == ["strl-321"]
    assert codes(stored["quality_issues"]) == issues


async def test_citizen_dst(intake: AsyncTestClient[Any]) -> None:
    dst = cases("citizen-dst.json")
    spring = await post(
        intake, "citizen", dst["spring gap: incident 29.03.2026 02:30 (does not exist)"]
    )
    assert spring["report"]["incident"]["occurred_from"] == "2026-03-29T01:30:00Z"
    assert codes(spring["quality_issues"]) == {
        ("time.nonexistent", "$.incident.occurred_from"),
        ("time.nonexistent", "$.incident.occurred_to"),
    }
    autumn = dst["fall back: incident 25.10.2026 02:30 (happens twice)"]
    fold = await post(intake, "citizen", autumn)
    assert fold["report"]["incident"]["occurred_from"] == "2026-10-25T00:30:00Z"
    assert codes(fold["quality_issues"]) == {("time.ambiguous", "$.incident.occurred_from")}
    # 02:50 summer time to 02:10 winter time: 20 minutes, once refused with 422.
    period = await post(
        intake,
        "citizen",
        {**autumn, "hendelse_fra": "25.10.2026 02:50", "hendelse_til": "25.10.2026 02:10"},
    )
    incident = period["report"]["incident"]
    assert (incident["occurred_from"], incident["occurred_to"]) == (
        "2026-10-25T00:50:00Z",
        "2026-10-25T01:10:00Z",
    )
    assert period["quality_issues"] == []


async def test_agency_old_penal_code(intake: AsyncTestClient[Any]) -> None:
    old_code = cases("agency-old-penal-code.json")
    old = await post(intake, "agency", old_code["old code 1902 s.231 (grov legemsbeskadigelse)"])
    assert [o["code"] for o in old["report"]["offences"]] == ["strl-274"]
    assert codes(old["report"]["notes"]) == {("offence.converted", "$.offences[0].code")}
    assert old["quality_issues"] == []
    new = await post(intake, "agency", old_code["new code with year (2005) s.274"])
    assert [o["code"] for o in new["report"]["offences"]] == ["strl-274"]
    assert (new["quality_issues"], new["report"].get("notes", [])) == ([], [])


async def test_arrest_unknown_age(intake: AsyncTestClient[Any]) -> None:
    arrest = cases("arrest-unknown-age.json")
    known = await post(intake, "canonical", arrest["arrested suspect, age known (born 1990)"])
    unknown = await post(
        intake, "canonical", arrest["arrested suspect, unidentified (no id, no birth date)"]
    )
    assert known["quality_issues"] == []
    assert codes(unknown["quality_issues"]) == {("person.age_unknown", "$.persons[0]")}


async def test_an_old_municipality_number_is_a_note_and_the_same_report_as_the_new(
    intake: AsyncTestClient[Any],
) -> None:
    body = dict(cases("arrest-unknown-age.json")["arrested suspect, age known (born 1990)"])
    body["external_id"] = unique("renumbered")
    body["incident"] = {**body["incident"], "municipality": "3024"}  # Bærum, 2020-2023
    first = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    assert first.status_code == 202, first.text
    stored = (await intake.get(first.headers["location"], headers=auth("alpha"))).json()
    assert stored["report"]["incident"]["municipality"] == "3201"
    assert codes(stored["report"]["notes"]) == {
        ("municipality.renumbered", "$.incident.municipality")
    }
    assert stored["quality_issues"] == []
    # The same report with the 2024 number is a repeat, not another report or a conflict.
    body["incident"] = {**body["incident"], "municipality": "3201"}
    again = await intake.post("/v1/reports", json=body, headers=auth("alpha"))
    assert again.status_code == 200, again.text
    assert again.json()["report_id"] == first.json()["report_id"]
