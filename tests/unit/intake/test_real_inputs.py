"""Real inputs that went wrong, through the adapter and standardisation as the intake runs them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec

from schemas import reference
from schemas.report import Report
from services.common.standardise import standardise
from services.intake.adapters import ADAPTERS
from services.intake.service import from_source

REF = reference.load()
DATA = Path(__file__).parents[2] / "data" / "real_inputs"
RECEIVED = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
UTC = dt.UTC


def cases(name: str) -> dict[str, dict[str, Any]]:
    """The file's cases by label."""
    items: list[dict[str, Any]] = json.loads((DATA / name).read_text("utf-8"))
    return {item["label"]: item.get("body") or item["report"] for item in items}


def through(format_name: str, body: dict[str, Any]) -> Report:
    if format_name == "canonical":
        report = msgspec.convert(body, Report)
    else:
        adapter = ADAPTERS[format_name]
        report = from_source(adapter, msgspec.convert(body, adapter.struct), REF)
    return standardise(report, REF, RECEIVED)


def found(report: Report) -> set[tuple[str, str]]:
    return {(q.code, q.path) for q in report.quality_issues}


def noted(report: Report) -> set[tuple[str, str]]:
    return {(n.code, n.path) for n in report.notes}


# --- citizen-unicode.json ---------------------------------------------------------------

UNICODE = cases("citizen-unicode.json")


def test_a_decomposed_municipality_name_is_found() -> None:
    body = UNICODE["kommune 'Ålesund' NFD (macOS)"]
    assert body["kommune"] != "Ålesund"  # the file holds it decomposed
    out = through("citizen", body)
    assert out.incident.municipality == "1508"  # Ålesund since 1 January 2024
    assert out.incident.municipality_name == "Ålesund"  # kept, in NFC
    assert out.quality_issues == []


def test_an_ambiguous_municipality_name_says_it_is_ambiguous() -> None:
    out = through("citizen", UNICODE["kommune 'Våler' (two municipalities)"])
    assert out.incident.municipality is None
    assert found(out) == {("municipality.ambiguous", "$.incident.municipality_name")}
    (issue,) = out.quality_issues
    assert "3114" in issue.message
    assert "3419" in issue.message


def test_a_category_with_a_zero_width_space_keeps_its_offence() -> None:
    out = through("citizen", UNICODE["kategori 'Sykkeltyveri' with zero-width space"])
    assert [o.code for o in out.offences] == ["strl-321"]
    assert out.quality_issues == []


# --- citizen-dst.json -------------------------------------------------------------------

DST = cases("citizen-dst.json")


def test_a_time_in_the_spring_gap_moves_forward_and_says_so() -> None:
    out = through("citizen", DST["spring gap: incident 29.03.2026 02:30 (does not exist)"])
    # 02:30 does not exist on 29 March 2026 (02:00 CET became 03:00 CEST at 01:00 UTC);
    # moved forward by the gap it is 03:30 CEST, 01:30 UTC; 02:45 likewise 01:45 UTC.
    assert out.incident.occurred_from == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert out.incident.occurred_to == dt.datetime(2026, 3, 29, 1, 45, tzinfo=UTC)
    assert found(out) == {
        ("time.nonexistent", "$.incident.occurred_from"),
        ("time.nonexistent", "$.incident.occurred_to"),
    }


def test_a_time_that_happens_twice_takes_the_earlier_and_says_so() -> None:
    out = through("citizen", DST["fall back: incident 25.10.2026 02:30 (happens twice)"])
    # 02:30 on 25 October 2026 is 00:30 UTC (summer time) and 01:30 UTC (winter time).
    assert out.incident.occurred_from == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert found(out) == {("time.ambiguous", "$.incident.occurred_from")}


def test_a_period_across_the_autumn_change_is_accepted_with_its_real_instants() -> None:
    body = {
        **DST["fall back: incident 25.10.2026 02:30 (happens twice)"],
        "hendelse_fra": "25.10.2026 02:50",
        "hendelse_til": "25.10.2026 02:10",
    }
    out = through("citizen", body)
    assert out.incident.occurred_from == dt.datetime(2026, 10, 25, 0, 50, tzinfo=UTC)
    assert out.incident.occurred_to == dt.datetime(2026, 10, 25, 1, 10, tzinfo=UTC)
    # Only one reading of each end makes a period: resolved, noted, no triage.
    assert out.quality_issues == []
    assert noted(out) == {
        ("time.ambiguous_resolved", "$.incident.occurred_from"),
        ("time.ambiguous_resolved", "$.incident.occurred_to"),
    }


def test_a_report_sent_just_after_the_spring_gap_is_not_called_earlier_than_its_incident() -> None:
    # Sent 03:05 CEST (01:05 UTC) about 02:30, a time the gap skipped: one reading of 02:30
    # (00:30 UTC) lies before the report, so 'incident after report' would be untrue.
    body = {
        **DST["spring gap: incident 29.03.2026 02:30 (does not exist)"],
        "innsendt": "29.03.2026 03:05",
    }
    body.pop("hendelse_til")
    out = through("citizen", body)
    assert found(out) == {("time.nonexistent", "$.incident.occurred_from")}


# --- agency-old-penal-code.json ---------------------------------------------------------

OLD_CODE = cases("agency-old-penal-code.json")


def test_the_1902_code_is_converted_not_read_as_todays_section() -> None:
    out = through("agency", OLD_CODE["old code 1902 s.231 (grov legemsbeskadigelse)"])
    # 1902 § 231 grov legemsbeskadigelse is 2005 § 274 grov kroppsskade (Lovdata); 2005
    # § 231 is a drug offence.
    assert [o.code for o in out.offences] == ["strl-274"]
    assert noted(out) == {("offence.converted", "$.offences[0].code")}
    assert out.quality_issues == []


def test_the_2005_code_with_its_year_keeps_working() -> None:
    out = through("agency", OLD_CODE["new code with year (2005) s.274"])
    assert [o.code for o in out.offences] == ["strl-274"]
    assert (out.quality_issues, out.notes) == ([], [])


# --- arrest-unknown-age.json (standardisation) ------------------------------------------

ARREST = cases("arrest-unknown-age.json")


def test_an_arrested_suspect_of_known_age_has_no_issue() -> None:
    out = through("canonical", ARREST["arrested suspect, age known (born 1990)"])
    assert out.persons[0].age_at_incident == 36
    assert out.quality_issues == []


def test_an_arrested_suspect_of_unknown_age_is_flagged() -> None:
    out = through("canonical", ARREST["arrested suspect, unidentified (no id, no birth date)"])
    assert out.persons[0].age_at_incident is None
    assert found(out) == {("person.age_unknown", "$.persons[0]")}
