"""Where it happened: old municipality numbers, split ones, Svalbard, and names."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.decision import TRIAGE_UNIT
from schemas.report import Report
from services.common.rules.engine import decide
from services.common.rules.ruleset import load_ruleset
from services.common.standardise import standardise

REF = reference.load()
ROOT = Path(__file__).parents[3]
RECEIVED = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)


def report(**incident: Any) -> Report:
    raw = msgspec.convert(
        {
            "source": "s",
            "external_id": "x",
            "reported_at": "2026-11-30T10:00:00+01:00",
            "incident": {"occurred_from": "2026-11-30T09:00:00+01:00", "description": "d"}
            | incident,
            "offences": [{"code": "strl-321"}],
        },
        Report,
    )
    return standardise(raw, REF, RECEIVED)


def issues(out: Report) -> set[tuple[str, str]]:
    return {(q.code, q.path) for q in out.quality_issues}


# The domain facts' examples of the 2024 renumbering (SSB classification 131).
@pytest.mark.parametrize(
    ("old", "new", "district"),
    [
        ("3001", "3101", "Øst"),  # Halden
        ("3005", "3301", "Sør-Øst"),  # Drammen
        ("3024", "3201", "Oslo"),  # Bærum, in Oslo police district
        ("3025", "3203", "Oslo"),  # Asker
        ("3803", "3905", "Sør-Øst"),  # Tønsberg
        ("3807", "4003", "Sør-Øst"),  # Skien
        ("5401", "5501", "Troms"),  # Tromsø
    ],
)
def test_a_2020_2023_number_becomes_its_2024_number_with_a_note(
    old: str, new: str, district: str
) -> None:
    out = report(municipality=old)
    assert out.incident.municipality == new
    assert REF.district_of(out.incident.municipality) == district
    assert out.quality_issues == []
    assert [(n.code, n.path) for n in out.notes] == [
        ("municipality.renumbered", "$.incident.municipality")
    ]
    assert old in out.notes[0].message
    assert new in out.notes[0].message


def test_a_note_does_not_send_the_report_to_triage() -> None:
    rules = load_ruleset(
        ROOT / "deploy/routing/rules.yaml", ROOT / "deploy/routing/units.yaml", REF
    )
    decision = decide(report(municipality="3024"), uuid.uuid4(), rules, RECEIVED)
    assert decision.unit != TRIAGE_UNIT
    assert decision.district == "Oslo"


def test_a_split_number_goes_to_a_person_unless_the_name_tells_which_part() -> None:
    # 1507 Ålesund (2020-2023) became 1508 Ålesund and 1580 Haram on 1 January 2024.
    split = report(municipality="1507")
    assert split.incident.municipality == "1507"
    assert issues(split) == {("municipality.split", "$.incident.municipality")}
    assert "1508" in split.quality_issues[0].message
    assert "1580" in split.quality_issues[0].message
    for name, number in (("Haram", "1580"), ("ålesund", "1508")):
        told = report(municipality="1507", municipality_name=name)
        assert told.incident.municipality == number
        assert told.quality_issues == []
        assert [n.code for n in told.notes] == ["municipality.renumbered"]


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"municipality": "2100"}, "$.incident.municipality"),
        ({"municipality": "2111"}, "$.incident.municipality"),
        ({"municipality_name": "Svalbard"}, "$.incident.municipality_name"),
        ({"municipality_name": "longyearbyen"}, "$.incident.municipality_name"),
    ],
)
def test_svalbard_says_what_it_is(fields: dict[str, str], path: str) -> None:
    out = report(**fields)
    assert issues(out) == {("municipality.svalbard", path)}
    message = out.quality_issues[0].message
    assert "not a municipality" in message
    assert "Sysselmesteren" in message
    assert REF.district_of(out.incident.municipality) is None


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("Ålesund", "1508"),
        ("A\u030alesund", "1508"),  # decomposed, as macOS sends it
        ("  BERGEN ", "4601"),
        ("Guovdageaidnu", "5612"),  # Kautokeino's North Sami name
        ("Kárášjohka", "5610"),  # Karasjok
        ("Porsáŋgu", "5622"),  # Porsanger, North Sami
        ("Porsanki", "5622"),  # Porsanger, Kven
        ("Deatnu", "5628"),  # Tana
        ("Kaivuono", "5540"),  # Kåfjord, Kven
        ("Våler (Østfold)", "3114"),  # SSB's label for the shared name
        ("Herøy (Nordland)", "1818"),
        ("Porsanger - Porsáŋgu - Porsanki", "5622"),  # SSB's combined form
        ("Tana - Deatnu", "5628"),  # the other order
        ("Aurskog\u200b-Høland", "3226"),
    ],
)
def test_names_resolve_in_any_form_and_language(name: str, number: str) -> None:
    out = report(municipality_name=name)
    assert out.incident.municipality == number
    assert out.quality_issues == []


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Våler", "municipality.ambiguous"),  # 3114 Østfold and 3419 Innlandet
        ("herøy", "municipality.ambiguous"),  # 1515 Møre og Romsdal and 1818 Nordland
        ("Atlantis", "municipality.unknown_name"),
        ("Bergen - Oslo", "municipality.unknown_name"),
    ],
)
def test_an_ambiguous_or_unknown_name_says_which(name: str, code: str) -> None:
    out = report(municipality_name=name)
    assert out.incident.municipality is None
    assert issues(out) == {(code, "$.incident.municipality_name")}
    assert f"'{name}'" in out.quality_issues[0].message


def test_a_name_beside_its_number_agrees_or_is_flagged() -> None:
    assert report(municipality="3114", municipality_name="Våler").quality_issues == []
    assert report(municipality="3001", municipality_name="Halden").quality_issues == []
    out = report(municipality="3114", municipality_name="Bergen")
    assert out.incident.municipality == "3114"
    assert issues(out) == {("municipality.name_mismatch", "$.incident.municipality_name")}


def test_an_unknown_number_stays_unknown() -> None:
    out = report(municipality="9998")
    assert issues(out) == {("municipality.unknown", "$.incident.municipality")}


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("Oslo kommune", "0301"),
        ("BERGEN KOMMUNE", "4601"),
        ("Kautokeino kommune", "5612"),
        ("Guovdageaidnu kommune", "5612"),  # the Sami name with the Norwegian word
        ("Porsanger - Porsáŋgu - Porsanki kommune", "5622"),
        ("Våler (Østfold) kommune", "3114"),
        ("Nore og Uvdal\u00a0kommune", "3338"),
    ],
)
def test_a_name_with_the_word_kommune_after_it_resolves(name: str, number: str) -> None:
    out = report(municipality_name=name)
    assert out.incident.municipality == number
    assert out.quality_issues == []


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Våler kommune", "municipality.ambiguous"),
        # The reference data holds no name with the Sami word for municipality (and the
        # name takes another form with it): a person reads it.
        ("Guovdageainnu suohkan", "municipality.unknown_name"),
        ("kommune", "municipality.unknown_name"),
        ("Atlantis kommune", "municipality.unknown_name"),
    ],
)
def test_the_word_kommune_makes_no_unknown_name_known(name: str, code: str) -> None:
    out = report(municipality_name=name)
    assert out.incident.municipality is None
    assert issues(out) == {(code, "$.incident.municipality_name")}


@pytest.mark.parametrize(
    ("name", "number"),
    [
        # SSB KLASS 131 writes Porsanger's North Sami name without ŋ (municipalities.csv note).
        ("Porsángu", "5622"),
        ("Porsanger - Porsángu - Porsanki", "5622"),
        # SSB printed Røros's South Sami name 'Rossen' in March and April 2024.
        ("Rossen", "5025"),
    ],
)
def test_ssb_spellings_the_data_names_resolve(name: str, number: str) -> None:
    out = report(municipality_name=name)
    assert out.incident.municipality == number
    assert out.quality_issues == []
