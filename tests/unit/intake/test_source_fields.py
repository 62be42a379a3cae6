"""Source formats: an empty optional text is not given, and a problem the canonical contract
finds in a source field is named at that field, where the sender can fix it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.report import Report
from schemas.textrules import ACCOUNT, IN_WORDS, LINE, NO_CONTROLS
from services.common.standardise import Options, standardise
from services.intake.adapters import ADAPTERS
from services.intake.service import from_source
from services.intake.validation import ReportProblems, decode

REF = reference.load()
RECEIVED = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples" / "sources"


def body(format_name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / f"{format_name}.json").read_text("utf-8"))
    return loaded


def convert(format_name: str, sent: dict[str, Any]) -> Report:
    adapter = ADAPTERS[format_name]
    # Decoded as the intake decodes a body: the source format's own rules first.
    parsed = msgspec.json.decode(json.dumps(sent).encode(), type=adapter.struct)
    return from_source(adapter, parsed, REF)


def refused(format_name: str, sent: dict[str, Any]) -> list[tuple[str, str]]:
    """The problems named, by the source format's own rules or by the canonical contract's."""
    parsed, problems = decode(json.dumps(sent).encode(), ADAPTERS[format_name].struct)
    if parsed is None:
        return [(p.path, p.message) for p in problems]
    with pytest.raises(ReportProblems) as caught:
        from_source(ADAPTERS[format_name], parsed, REF)
    return [(p.path, p.message) for p in caught.value.problems]


@pytest.mark.parametrize("empty", ["", "   ", "\u200b", " \u00a0"])
def test_empty_patrol_fields_are_not_given(empty: str) -> None:
    sent = body("patrol")
    sent["people"][0] |= {"fnr": empty, "name": empty, "tlf": empty}
    sent["scene"]["address"] = empty
    report = convert("patrol", sent)
    first = report.persons[0]
    assert (first.national_id, first.name, first.phone) == (None, None, None)
    assert report.incident.address is None
    out = standardise(report, REF, RECEIVED, Options(accept_synthetic_ids=True))
    assert not [q for q in out.quality_issues if q.path.startswith("$.persons[0]")]


@pytest.mark.parametrize("empty", ["", "  "])
def test_empty_agency_and_citizen_fields_are_not_given(empty: str) -> None:
    agency = body("agency")
    agency["involverte"][0] |= {"fodselsnummer": empty, "navn": empty}
    agency["gjerningssted"]["beskrivelse"] = empty
    report = convert("agency", agency)
    assert (report.persons[0].national_id, report.persons[0].name) == (None, None)
    assert report.incident.address is None
    citizen = body("citizen")
    citizen["anmelder"] = {"fornavn": empty, "etternavn": "Testesen", "fodselsnummer": empty}
    citizen["vitner"] = [{"fornavn": empty, "etternavn": empty, "telefon": empty}]
    citizen |= {"adresse": empty, "kommune": empty}
    report = convert("citizen", citizen)
    assert report.persons[0].name == "Testesen"
    assert report.persons[0].national_id is None
    assert (report.persons[1].name, report.persons[1].phone) == (None, None)
    assert (report.incident.address, report.incident.municipality_name) == (None, None)


@pytest.mark.parametrize(
    ("format_name", "change", "path", "says"),
    [
        ("patrol", {"narrative": "   "}, "$.narrative", "visible character"),
        ("patrol", {"case_ref": " "}, "$.case_ref", "visible character"),
        ("patrol", {"codes": ["strl 272", "  "]}, "$.codes[1]", "visible character"),
        ("patrol", {"started": "1850-01-01T10:00:00+01:00"}, "$.started", "`started` must lie"),
        ("patrol", {"logged_at": "2150-01-01T10:00:00Z"}, "$.logged_at", "`logged_at` must lie"),
        (
            "patrol",
            {"ended": "2026-11-26T20:00:00+01:00"},
            "$.ended",
            "`ended` is before `started`",
        ),
        ("agency", {"sammendrag": "\n"}, "$.sammendrag", "visible character"),
        ("agency", {"meldingsId": "  "}, "$.meldingsId", "visible character"),
        (
            "agency",
            {"forhold": [{"lovhenvisning": "   "}]},
            "$.forhold[0].lovhenvisning",
            "visible",
        ),
        (
            "agency",
            {"gjerningsperiode": {"fra": "1850-01-01"}},
            "$.gjerningsperiode.fra",
            "`fra` must lie",
        ),
        ("citizen", {"kategori": "  "}, "$.kategori", "visible character"),
        ("citizen", {"beskrivelse": " \r\n "}, "$.beskrivelse", "visible character"),
    ],
)
def test_a_contract_problem_is_named_at_the_source_field(
    format_name: str, change: dict[str, Any], path: str, says: str
) -> None:
    problems = refused(format_name, body(format_name) | change)
    assert [p for p, _ in problems] == [path]
    assert says in problems[0][1]
    assert "canonical" not in problems[0][1]


def test_a_person_field_problem_is_named_at_the_person_in_the_source() -> None:
    patrol = body("patrol")
    patrol["people"][1]["dob"] = "1850-01-01"
    assert refused("patrol", patrol) == [
        ("$.people[1].dob", "`dob` must lie between 1900 and 2100"),
    ]
    citizen = body("citizen")
    citizen["mistenkte"] = [{"fornavn": "x" * 150, "etternavn": "y" * 60}]
    assert refused("citizen", citizen) == [
        (
            "$.mistenkte[0]",
            "Expected `str` of length <= 200 (fornavn and etternavn together, with a space)",
        ),
    ]


def test_control_characters_are_refused_at_the_source_field() -> None:
    one_line = IN_WORDS[NO_CONTROLS]
    patrol = body("patrol")
    patrol["people"][3]["tlf"] = "+47\x1b[2J"
    patrol["case_ref"] = "P-1\r\nP-2"
    assert refused("patrol", patrol) == [
        ("$.case_ref", IN_WORDS[LINE]),
        ("$.people[3].tlf", one_line),
    ]
    agency = body("agency")
    # The enterprise (second party) is no person: the third party is the second person.
    agency["involverte"].append({"rolle": "vitne", "navn": "A\u0085B"})
    assert refused("agency", agency) == [("$.involverte[2].navn", one_line)]
    citizen = body("citizen")
    citizen["mistenkte"] = [{"fodselsnummer": "1\x7f2"}]
    citizen["beskrivelse"] = "Linje 1\r\nLinje 2\tmed tab\x07"
    assert refused("citizen", citizen) == [
        ("$.beskrivelse", IN_WORDS[ACCOUNT]),
        ("$.mistenkte[0].fodselsnummer", one_line),
    ]


# Line breaks to a reader that follows Unicode (UAX #14), which one-line fields refuse as
# they refuse CR and LF.
SEPARATORS = ["\u2028", "\u2029"]


@pytest.mark.parametrize("char", SEPARATORS)
def test_line_and_paragraph_separators_are_refused_in_one_line_fields(char: str) -> None:
    patrol = body("patrol")
    patrol["case_ref"] = f"P-1{char}P-2"
    patrol["people"][3]["tlf"] = f"{char}+4791234567"
    assert refused("patrol", patrol) == [
        ("$.case_ref", IN_WORDS[LINE]),
        ("$.people[3].tlf", IN_WORDS[NO_CONTROLS]),
    ]
    canonical = json.loads((EXAMPLES.parent / "report.domestic-violence.json").read_text())
    canonical["persons"][0]["name"] = f"Kari{char} Nordmann"
    _, problems = decode(json.dumps(canonical).encode(), Report)
    assert [(p.path, p.message) for p in problems] == [("$.persons[0].name", IN_WORDS[LINE])]


@pytest.mark.parametrize("char", SEPARATORS)
def test_free_text_keeps_them(char: str) -> None:
    citizen = body("citizen")
    citizen["beskrivelse"] = f"Linje 1{char}Linje 2"
    assert convert("citizen", citizen).incident.description.endswith("Linje 2")


def test_direction_marks_names_in_arabic_or_hebrew_script_use_are_kept() -> None:
    canonical = json.loads((EXAMPLES.parent / "report.domestic-violence.json").read_text())
    canonical["persons"][0]["name"] = "\u05e9\u05e8\u05d4 \u200fCohen"  # RIGHT-TO-LEFT MARK
    report, problems = decode(json.dumps(canonical).encode(), Report)
    assert problems == []
    assert report is not None
