"""Reference data: the municipality list and the offence catalogue."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest

from schemas import reference
from schemas.decision import Priority
from schemas.reference import name_key, places

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
    in_force = {v.code for v in ref.law_versions.values() if v.in_force}
    repealed = {v.code for v in ref.law_versions.values() if not v.in_force}
    assert set(ref.law_aliases.values()) <= laws | repealed
    assert in_force == laws
    assert ref.law_aliases["straffeloven"] == "strl"
    assert ref.law_aliases["almindelig borgerlig straffelov"] == "strl1902"


# --- tables of versions: municipality numbers of 2020-2023, the penal code of 1902 -------


def test_the_2024_renumbering_is_complete() -> None:
    changes = reference.load().municipality_changes
    renumbered = {old: new for old, (new, *more) in changes.items() if not more}
    split = {old: new for old, new in changes.items() if len(new) > 1}
    # 114 municipalities got new numbers on 1 January 2024 (KS): 113 renumbered, and
    # Ålesund (1507), split into 1508 Ålesund and 1580 Haram.
    assert len(renumbered) == 113
    assert split == {"1507": ("1508", "1580")}
    # Viken (30) became Østfold (31), Akershus (32), Buskerud (33); Vestfold og Telemark
    # (38) Vestfold (39) and Telemark (40); Troms og Finnmark (54) Troms (55), Finnmark (56).
    counties = {"30": {"31", "32", "33"}, "38": {"39", "40"}, "54": {"55", "56"}}
    assert {old[:2] for old in renumbered} == set(counties)
    for old, new in renumbered.items():
        assert new[:2] in counties[old[:2]], old
    # Every county of the three was renumbered whole: no 2024 number is left in 30, 38, 54.
    assert not [n for n in reference.load().municipalities if n[:2] in counties]


def test_each_renumbered_municipality_keeps_its_name() -> None:
    ref = reference.load()
    for line, row in enumerate(places.rows("municipality_changes.csv"), start=2):
        if row["old_number"] == "1507":
            continue
        # SSB writes 'Harstad - Hárstták' and 'Våler (Østfold)'.
        names = {name_key(re.sub(r" \(.*\)$", "", n)) for n in row["new_name"].split(" - ")}
        assert name_key(ref.municipalities[row["new_number"]].name) in names, line


def test_only_checked_rows_of_the_1902_table_convert() -> None:
    table = reference.load().conversions["strl1902"]
    converting = {s: c.target for s, c in table.items() if c.target}
    assert converting == {
        "228": "strl-271",
        "229": "strl-273",
        "231": "strl-274",
        "257": "strl-321",
        "258": "strl-322",
    }
    assert {c.verified for c in table.values()} <= {"lovdata", "literature", "background"}
    assert all(c.source for c in table.values())


def test_every_reference_table_has_its_sources() -> None:
    here = Path(reference.__file__).parent
    sources = "".join(p.read_text("utf-8") for p in here.glob("*.SOURCES.md"))
    for table in sorted(here.glob("*.csv")):
        assert f"`{table.name}`" in sources, table.name


def test_the_citizen_forms_categories_are_mapped_with_their_source() -> None:
    ref = reference.load()
    assert ref.citizen_categories[name_key("Innbrudd i bil")] == "strl-321"
    assert ref.citizen_categories[name_key("Tyveri fra bil")] == "strl-321"
    assert all(row["source"] for row in places.rows("citizen_categories.csv"))


def test_another_registers_spelling_is_read_as_the_name_it_stands_for() -> None:
    ref = reference.load()
    rows = places.rows("municipality_spellings.csv")
    assert {row["spelling"] for row in rows} >= {"Porsángu"}  # the note on 5622 Porsanger
    for row in rows:
        number = row["kommunenummer"]
        assert ref.municipality_named(row["spelling"]) == (number,)
        assert ref.municipality_named(row["stands_for"]) == (number,)
        assert row["stands_for"] in ref.municipalities[number].other_names
        # The data itself says the register writes it so (the municipality's note).
        (note,) = [
            m["note"] for m in places.rows("municipalities.csv") if m["kommunenummer"] == number
        ]
        assert f"'{row['spelling']}'" in note
