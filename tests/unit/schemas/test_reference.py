"""Reference data: the municipality list and the offence catalogue."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest

from schemas import reference
from schemas.decision import Priority

SOURCES = Path(reference.__file__).parent / "municipalities.SOURCES.md"


def test_district_counts_match_the_sources_document() -> None:
    # The sources file states the count per district independently of the CSV.
    text = SOURCES.read_text("utf-8")
    line = text[text.index("District counts") :].split("\n\n")[0].replace("\n", " ")
    stated = {
        name.strip(): int(n) for name, n in re.findall(r"([A-ZØÆÅa-zøæå -]+?) (\d+)[,.]", line)
    }
    counted = collections.Counter(
        m.police_district for m in reference.load().municipalities.values()
    )
    total = stated.pop("Total")
    assert dict(counted) == stated
    assert sum(counted.values()) == total
    assert set(counted) == set(reference.POLICE_DISTRICTS)


@pytest.mark.parametrize(
    ("number", "district"),
    [
        ("0301", "Oslo"),
        ("3201", "Oslo"),
        ("4228", "Sør-Vest"),
        ("1811", "Trøndelag"),
        ("3234", "Innlandet"),
        ("3236", "Sør-Øst"),
        ("5516", "Nordland"),
    ],
)
def test_cross_county_assignments(number: str, district: str) -> None:
    # FACTS.md: Bærum → Oslo, Sirdal → Sør-Vest, Bindal → Trøndelag, Lunner → Innlandet,
    # Jevnaker → Sør-Øst, Gratangen → Nordland.
    assert reference.load().district_of(number) == district


def test_unknown_municipality_has_no_district() -> None:
    assert reference.load().district_of("9999") is None
    assert reference.load().district_of(None) is None


def test_offence_catalogue_covers_the_domain_facts() -> None:
    offences = reference.load().offences
    facts = [
        321,
        322,
        323,
        351,
        352,
        353,
        271,
        272,
        273,
        274,
        282,
        283,
        291,
        292,
        293,
        294,
        299,
        302,
        304,
        263,
        264,
        371,
        372,
        231,
        232,
        202,
        185,
    ]
    missing = [s for s in facts if f"strl-{s}" not in offences]
    assert missing == []
    assert "vtrl-22" in offences
    assert offences["strl-282"].default_priority is Priority.HIGH
    assert {o.ssb_group for o in offences.values()} <= set(reference.SSB_GROUPS)


def test_law_aliases_point_at_known_laws() -> None:
    ref = reference.load()
    laws = {o.law for o in ref.offences.values()}
    assert set(ref.law_aliases.values()) <= laws
    assert ref.law_aliases["straffeloven"] == "strl"
