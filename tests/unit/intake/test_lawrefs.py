"""Law references whose meaning depends on the law's version, in every path that reads one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.report import Report
from services.common.standardise import offence_code, standardise
from services.intake.adapters import ADAPTERS
from services.intake.adapters.agency import AgencyMapping
from services.intake.adapters.shared import load_mapping
from services.intake.service import from_source

REF = reference.load()
RECEIVED = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples" / "sources"

# Straffeloven 1902 § 231 (grov legemsbeskadigelse) is straffeloven 2005 § 274 (grov
# kroppsskade), as checked on Lovdata; 2005 § 231 is a drug offence.
OLD_231 = [
    "straffeloven (1902) § 231",
    "strl. 1902 § 231",
    "strl 1902 § 231",
    "straffeloven av 1902 § 231",
    "straffeloven 1902 § 231",
    "straffelova (1902) § 231",
    "STRAFFELOVEN (1902) §231",
    "gml. strl. § 231",
    "gml strl § 231",
    "den gamle straffeloven § 231",
    "gamle straffeloven § 231",
    "strl. (gml.) § 231",
    "straffeloven § 231 (1902)",
    "almindelig borgerlig straffelov § 231",
    "Alminnelig borgerlig straffelov § 231",
    "Almindelig borgerlig Straffelov av 22. mai 1902 nr. 10 § 231",
    "lov 22. mai 1902 nr. 10 § 231",
    "LOV-1902-05-22-10 § 231",
    "§ 231 i straffeloven av 1902",
    "strl1902-231",
]
NEW_274 = [
    "straffeloven (2005) § 274",
    "strl. 2005 § 274",
    "straffeloven av 2005 § 274",
    "straffeloven av 20. mai 2005 nr. 28 § 274",
    "LOV-2005-05-20-28 § 274",
    "ny straffelov § 274",
    "straffeloven § 274 (2005)",
    "strl-274",
]


def canonical(code: str, occurred: str = "2014-06-01T12:00:00+02:00") -> Report:
    return msgspec.convert(
        {
            "source": "s",
            "external_id": "x",
            "reported_at": "2026-11-25T10:15:00+01:00",
            "incident": {"occurred_from": occurred, "description": "d", "municipality": "0301"},
            "offences": [{"code": code}],
        },
        Report,
    )


def issues(report: Report) -> set[tuple[str, str]]:
    return {(q.code, q.path) for q in report.quality_issues}


@pytest.mark.parametrize("text", OLD_231)
def test_every_way_of_writing_the_1902_code_is_converted_with_a_note(text: str) -> None:
    assert offence_code(text, REF) == "strl1902-231"
    out = standardise(canonical(text), REF, RECEIVED)
    assert [o.code for o in out.offences] == ["strl-274"]
    assert [(n.code, n.path) for n in out.notes] == [("offence.converted", "$.offences[0].code")]
    assert out.quality_issues == []


@pytest.mark.parametrize("text", NEW_274)
def test_the_2005_code_named_with_its_year_is_todays_code(text: str) -> None:
    # An incident in 2014 named with the 2005 code is read as the sender wrote it.
    out = standardise(canonical(text), REF, RECEIVED)
    assert [o.code for o in out.offences] == ["strl-274"]
    assert (out.quality_issues, out.notes) == ([], [])


@pytest.mark.parametrize(
    ("text", "kept", "mentions"),
    [
        # Background rows are never used to convert: a person checks them.
        ("straffeloven (1902) § 270", "strl1902-270", "strl-371"),
        # § 219 mishandling i familieforhold is § 282 or, where grave, § 283.
        ("gml. strl. § 219", "strl1902-219", "strl-282 or strl-283"),
        # A section the table does not know.
        ("strl. 1902 § 400", "strl1902-400", "no conversion"),
        # A version of another law the tables do not know.
        ("tolloven (1966) § 16", "toll1966-16", "1966"),
    ],
)
def test_a_repealed_law_without_a_known_conversion_goes_to_a_person(
    text: str, kept: str, mentions: str
) -> None:
    out = standardise(canonical(text), REF, RECEIVED)
    assert [o.code for o in out.offences] == [kept]
    assert issues(out) == {("offence.repealed_law", "$.offences[0].code")}
    assert mentions in out.quality_issues[0].message
    assert f"'{text}'" in out.quality_issues[0].message


@pytest.mark.parametrize(
    ("text", "occurred", "unclear"),
    [
        ("straffeloven § 271", "2014-06-01T12:00:00+02:00", True),  # 1902 § 271: grovt bedrageri
        ("strl. 228", "2015-09-30T23:00:00+02:00", True),
        ("straffeloven § 271", "2015-10-01T08:00:00+02:00", False),  # the 2005 code in force
        ("strl-271", "2014-06-01T12:00:00+02:00", False),  # the canonical form is the 2005 code
        ("straffeloven (2005) § 271", "2014-06-01T12:00:00+02:00", False),
        ("tolloven § 16-1", "2014-06-01T12:00:00+02:00", False),  # no older version known
    ],
)
def test_a_penal_code_reference_without_a_version_for_an_old_incident_is_unclear(
    text: str, occurred: str, unclear: bool
) -> None:
    out = standardise(canonical(text, occurred), REF, RECEIVED)
    assert (("offence.law_version_unclear", "$.offences[0].code") in issues(out)) is unclear


def _agency(lovhenvisning: str) -> Report:
    body: dict[str, Any] = json.loads((EXAMPLES / "agency.json").read_text("utf-8"))
    body["gjerningsperiode"] = {"fra": "2014-06-01", "til": "2014-06-01"}
    body["forhold"] = [{"lovhenvisning": lovhenvisning}]
    adapter = ADAPTERS["agency"]
    report = from_source(adapter, msgspec.convert(body, adapter.struct), REF)
    return standardise(report, REF, RECEIVED)


def _patrol(code: str) -> Report:
    body: dict[str, Any] = json.loads((EXAMPLES / "patrol.json").read_text("utf-8"))
    body["codes"] = [code]
    adapter = ADAPTERS["patrol"]
    report = from_source(adapter, msgspec.convert(body, adapter.struct), REF)
    return standardise(
        report,
        REF,
        RECEIVED,
    )


@pytest.mark.parametrize("read", [_agency, _patrol])
def test_agency_and_patrol_references_are_read_the_same_way(read: Any) -> None:
    assert [o.code for o in read("gml. strl. § 231").offences] == ["strl-274"]
    assert [o.code for o in read("straffeloven (2005) § 274").offences] == ["strl-274"]
    repealed = read("strl. 1902 § 270")
    assert [o.code for o in repealed.offences] == ["strl1902-270"]
    assert ("offence.repealed_law", "$.offences[0].code") in issues(repealed)


def test_a_long_agency_reference_keeps_its_version() -> None:
    text = "Almindelig borgerlig Straffelov av 22. mai 1902 nr. 10 § 231 første ledd, jf. § 232"
    assert len(text) > 64  # more than an offence code holds
    assert [o.code for o in _agency(text).offences] == ["strl-274"]
    unversioned = _agency("straffeloven § 271 første ledd bokstav a, annet ledd og tredje ledd")
    assert ("offence.law_version_unclear", "$.offences[0].code") in issues(unversioned)


def test_the_agency_reference_table_names_catalogue_offences_of_the_law_in_force() -> None:
    mapping: AgencyMapping = load_mapping("agency", AgencyMapping)
    for code in mapping.law_references.values():
        read = REF.offence(offence_code(code, REF) or "")
        assert read is not None, code
