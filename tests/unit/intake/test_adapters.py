"""Source adapters against golden files, and their problems with paths."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import msgspec
import pytest

from schemas import reference
from schemas.report import Report
from services.common.standardise import Options, standardise
from services.intake.adapters import ADAPTERS
from services.intake.service import from_source
from services.intake.validation import ReportProblems

ROOT = Path(__file__).parents[3]
EXAMPLES = ROOT / "schemas" / "examples" / "sources"
GOLDEN = ROOT / "tests" / "golden"
RECEIVED = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def convert(name: str, body: bytes) -> Report:
    adapter = ADAPTERS[name]
    return from_source(adapter, msgspec.json.decode(body, type=adapter.struct), reference.load())


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_adapter_output_matches_golden_file(name: str) -> None:
    report = convert(name, (EXAMPLES / f"{name}.json").read_bytes())
    expected = json.loads((GOLDEN / f"{name}.canonical.json").read_text("utf-8"))
    assert msgspec.to_builtins(report) == expected


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_standardised_output_matches_golden_file(name: str) -> None:
    report = convert(name, (EXAMPLES / f"{name}.json").read_bytes())
    standard = standardise(report, reference.load(), RECEIVED, Options(accept_synthetic_ids=True))
    expected = json.loads((GOLDEN / f"{name}.standardised.json").read_text("utf-8"))
    assert msgspec.to_builtins(standard) == expected


def _example(name: str) -> dict[str, object]:
    body: dict[str, object] = json.loads((EXAMPLES / f"{name}.json").read_text("utf-8"))
    return body


def test_citizen_times_are_local_without_offset_and_checked() -> None:
    body = _example("citizen")
    body["innsendt"] = "31.02.2026 10:00"
    body["hendelse_fra"] = "30.11.2026 25:00"
    with pytest.raises(ReportProblems) as caught:
        convert("citizen", json.dumps(body).encode())
    assert [p.path for p in caught.value.problems] == ["$.innsendt", "$.hendelse_fra"]


def test_citizen_unknown_category_goes_on_as_label() -> None:
    body = _example("citizen")
    body["kategori"] = "Stjålet hagenisse"
    report = convert("citizen", json.dumps(body).encode())
    assert msgspec.to_builtins(report)["offences"] == [{"label": "Stjålet hagenisse"}]


def test_patrol_unknown_codes_are_named() -> None:
    body = _example("patrol")
    body["people"] = [{"r": "X"}]
    body["markers"] = ["FARE", "UFO"]
    with pytest.raises(ReportProblems) as caught:
        convert("patrol", json.dumps(body).encode())
    assert [p.path for p in caught.value.problems] == ["$.people[0].r", "$.markers[1]"]


def test_patrol_end_before_start_is_a_structural_problem() -> None:
    body = _example("patrol")
    body["ended"] = "2026-11-26T20:00:00+01:00"
    with pytest.raises(ReportProblems) as caught:
        convert("patrol", json.dumps(body).encode())
    assert caught.value.problems[0].path.startswith("$")


@pytest.mark.parametrize(
    ("reference_text", "code"),
    [
        ("tolloven § 16-1", "toll-16-1"),
        ("Straffeloven §371", "strl-371"),
        ("strl. § 372 første ledd", "strl-372"),
        ("FOLKETRYGDLOVEN § 25-12", "strl-371"),
        ("folketrygd\u200bloven  §\u00a025-12", "strl-371"),
        ("en lov vi ikke kjenner § 4", "en lov vi ikke kjenner § 4"),
    ],
)
def test_agency_law_references_are_table_driven(reference_text: str, code: str) -> None:
    body = _example("agency")
    body["forhold"] = [{"lovhenvisning": reference_text}]
    report = convert("agency", json.dumps(body).encode())
    standard = standardise(report, reference.load(), RECEIVED)
    assert [o.code for o in standard.offences] == [code]


def test_agency_source_is_per_organisation() -> None:
    report = msgspec.to_builtins(convert("agency", (EXAMPLES / "agency.json").read_bytes()))
    assert report["source"] == "etat-974760673"
    assert report["reporter_org"] == "974760673"


def test_citizen_ambiguous_municipality_name_is_kept_and_says_why() -> None:
    body = _example("citizen")
    body["kommune"] = "Herøy"  # 1515 (Møre og Romsdal) and 1818 (Nordland)
    report = convert("citizen", json.dumps(body).encode())
    standard = standardise(report, reference.load(), RECEIVED)
    assert standard.incident.municipality is None
    assert standard.incident.municipality_name == "Herøy"
    assert standard.incident.address == "Bryggen 5"
    (issue,) = [q for q in standard.quality_issues if q.code.startswith("municipality")]
    assert (issue.code, issue.path) == ("municipality.ambiguous", "$.incident.municipality_name")
    assert "1515" in issue.message
    assert "1818" in issue.message


def test_patrol_role_and_marker_codes_are_read_in_any_form() -> None:
    body = _example("patrol")
    # A lower-case role, a marker in decomposed form and with a zero-width space.
    body["people"] = [{"r": "m "}, {"r": "f"}]
    body["markers"] = ["V\u0041\u030aPEN", "fa\u200bre"]
    report = convert("patrol", json.dumps(body).encode())
    built = msgspec.to_builtins(report)
    assert [p["role"] for p in built["persons"]] == ["suspect", "victim"]
    assert built["flags"] == {"weapon": True, "ongoing_danger": True}


def test_citizen_year_out_of_range_is_a_problem() -> None:
    body = _example("citizen")
    body["hendelse_fra"] = "01.01.0001 10:00"
    with pytest.raises(ReportProblems) as caught:
        convert("citizen", json.dumps(body).encode())
    assert "1900" in caught.value.problems[0].message
