"""Real inputs that went wrong, posted to the intake against the real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.integration.conftest import unique
from tests.support.clients import auth

DATA = Path(__file__).parents[2] / "data" / "real_inputs"
REFERENCE_FIELD = {"citizen": "referanse", "agency": "meldingsId", "patrol": "case_ref"}
EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples" / "sources"


def example(format_name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{format_name}.json").read_text("utf-8"))
    return loaded


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


# --- found by a new user after the real-inputs work ----------------------------------------


async def test_a_version_after_the_section_is_read_whole(intake: AsyncTestClient[Any]) -> None:
    agency = example("agency")
    agency["gjerningsperiode"] = {"fra": "2020-06-01", "til": "2020-06-01"}
    agency["forhold"] = [
        {"lovhenvisning": "straffeloven § 231 av 1902"},  # 1902 § 231 is 2005 § 274 (Lovdata)
        {"lovhenvisning": "straffeloven (1902) §§ 229 og 231"},
        {"lovhenvisning": "straffeloven § 231 (se vedlegg)"},
    ]
    stored = await post(intake, "agency", agency)
    assert [o["code"] for o in stored["report"]["offences"]] == [
        "strl-274",
        "straffeloven (1902) §§ 229 og 231",
        "straffeloven § 231 (se vedlegg)",
    ]
    assert codes(stored["quality_issues"]) >= {
        ("offence.several_sections", "$.offences[1].code"),
        ("offence.unclear_reference", "$.offences[2].code"),
    }
    assert codes(stored["report"]["notes"]) == {("offence.converted", "$.offences[0].code")}


async def test_the_younger_of_two_birth_dates_gives_the_age(intake: AsyncTestClient[Any]) -> None:
    patrol = example("patrol")
    # 15051000045: born 15 May 1910 (116); the patrol's date: 15 May 2012 (14 at the incident).
    patrol["people"] = [
        {
            "r": "M",
            "fnr": "15051000045",
            "dob": "2012-05-15",
            "arrest": {"at": "2026-11-26T23:12:00+01:00"},
        }
    ]
    stored = await post(intake, "patrol", patrol)
    (person,) = stored["report"]["persons"]
    assert (person["age_at_incident"], person["birth_date"]) == (14, "2012-05-15")
    assert codes(stored["quality_issues"]) == {
        ("person.birth_date_mismatch", "$.persons[0].birth_date")
    }


async def test_empty_source_fields_are_not_given(intake: AsyncTestClient[Any]) -> None:
    patrol = example("patrol")
    patrol["people"][0] |= {"fnr": "", "name": "", "tlf": " "}
    stored = await post(intake, "patrol", patrol)
    assert stored["report"]["persons"][0] == {"role": "victim"}
    patrol = example("patrol")
    patrol["narrative"] = "   "
    patrol["case_ref"] = "PAT-blank"
    refused = await intake.post("/v1/sources/patrol/reports", json=patrol, headers=auth("alpha"))
    assert refused.status_code == 422
    assert [e["path"] for e in refused.json()["errors"]] == ["$.narrative"]


async def test_names_without_invisible_characters_and_with_kommune(
    intake: AsyncTestClient[Any],
) -> None:
    citizen = example("citizen")
    citizen |= {"kommune": "Ber\u200bgen", "kategori": "Innbrudd i bil\u200b"}
    stored = await post(intake, "citizen", citizen)
    incident = stored["report"]["incident"]
    assert (incident["municipality"], incident["municipality_name"]) == ("4601", "Bergen")
    assert stored["report"]["offences"] == [{"code": "strl-321", "label": "Innbrudd i bil"}]
    for name, number in (("Oslo kommune", "0301"), ("Porsángu", "5622")):
        stored = await post(intake, "citizen", example("citizen") | {"kommune": name})
        assert stored["report"]["incident"]["municipality"] == number
        assert not [i for i in stored["quality_issues"] if i["code"].startswith("municipality")]
