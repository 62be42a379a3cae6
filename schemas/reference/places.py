"""Municipalities (2024), their names, the numbers that changed, places that are none."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import msgspec

from schemas.reference.names import name_key

HERE = Path(__file__).parent

POLICE_DISTRICTS: tuple[str, ...] = (
    "Finnmark",
    "Troms",
    "Nordland",
    "Trøndelag",
    "Møre og Romsdal",
    "Vest",
    "Sør-Vest",
    "Agder",
    "Sør-Øst",
    "Oslo",
    "Øst",
    "Innlandet",
)
# 'Porsáŋgu (se); Porsanki (fkv)': a name and its language code (se, smj, sma, fkv).
_OTHER_NAME = re.compile(r"^(?P<name>.+?)\s*\((?P<language>[a-z]{2,3})\)$")


class ReferenceDataError(ValueError):
    """A reference file breaks its own rules."""


class Municipality(msgspec.Struct, frozen=True):
    """A municipality (2024 numbering) and the police district that covers it."""

    number: str
    name: str
    county_number: str
    county_name: str
    police_district: str
    other_names: tuple[str, ...] = ()


class NotMunicipality(msgspec.Struct, frozen=True):
    """A number some registers use for a place that is no municipality (Svalbard)."""

    number: str
    name: str
    police_authority: str


@dataclass(frozen=True, slots=True)
class Places:
    """The municipality tables, indexed for lookups by number and by name."""

    municipalities: dict[str, Municipality]
    # name_key(name) -> the numbers carrying that name (two for 'Våler', 'Herøy')
    names: dict[str, tuple[str, ...]]
    # a 2020-2023 number -> its 2024 number, or several where the municipality was split
    changes: dict[str, tuple[str, ...]]
    not_municipalities: dict[str, NotMunicipality]


def rows(name: str) -> list[dict[str, str]]:
    """The rows of a CSV file beside this module, as dicts by header."""
    with (HERE / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _other_names(text: str, where: str) -> tuple[str, ...]:
    found = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = _OTHER_NAME.match(part)
        if match is None:
            raise ReferenceDataError(f"{where}: other name {part!r} lacks its language code")
        found.append(match.group("name"))
    return tuple(found)


def _municipalities() -> dict[str, Municipality]:
    result: dict[str, Municipality] = {}
    for line, row in enumerate(rows("municipalities.csv"), start=2):
        where = f"municipalities.csv:{line}"
        if row["police_district"] not in POLICE_DISTRICTS:
            raise ReferenceDataError(f"{where}: unknown police district")
        result[row["kommunenummer"]] = Municipality(
            number=row["kommunenummer"],
            name=row["name"],
            county_number=row["county_number"],
            county_name=row["county_name"],
            police_district=row["police_district"],
            other_names=_other_names(row["other_names"], where),
        )
    return result


def _changes(municipalities: dict[str, Municipality]) -> dict[str, tuple[str, ...]]:
    changes: dict[str, tuple[str, ...]] = {}
    for line, row in enumerate(rows("municipality_changes.csv"), start=2):
        old, new = row["old_number"], row["new_number"]
        if new not in municipalities:
            raise ReferenceDataError(f"municipality_changes.csv:{line}: {new} is not a 2024 number")
        if old in municipalities:
            raise ReferenceDataError(f"municipality_changes.csv:{line}: {old} is still in use")
        changes[old] = (*changes.get(old, ()), new)
    return changes


def _not_municipalities() -> dict[str, NotMunicipality]:
    return {
        row["number"]: NotMunicipality(row["number"], row["name"], row["police_authority"])
        for row in rows("not_municipalities.csv")
    }


def _names(
    municipalities: dict[str, Municipality], elsewhere: list[dict[str, str]]
) -> dict[str, tuple[str, ...]]:
    named: dict[str, list[str]] = {}

    def add(name: str, number: str) -> None:
        numbers = named.setdefault(name_key(name), [])
        if number not in numbers:
            numbers.append(number)

    for m in municipalities.values():
        for name in (m.name, *m.other_names):
            add(name, m.number)
            # SSB's own label for a shared name carries the county: 'Våler (Østfold)'.
            add(f"{name} ({m.county_name})", m.number)
    for row in elsewhere:
        for name in (row["name"], *filter(None, row["other_names"].split(";"))):
            add(name, row["number"])
    for line, row in enumerate(rows("municipality_spellings.csv"), start=2):
        # Another register's spelling of an official name, read as that name.
        number, spelling = row["kommunenummer"], row["spelling"]
        of = municipalities.get(number)
        where = f"municipality_spellings.csv:{line}"
        if of is None or row["stands_for"] not in (of.name, *of.other_names):
            raise ReferenceDataError(f"{where}: {row['stands_for']!r} is no name of {number}")
        if named.get(name_key(spelling), [number]) != [number]:
            raise ReferenceDataError(f"{where}: {spelling!r} is another place's name")
        add(spelling, number)
    return {key: tuple(numbers) for key, numbers in named.items()}


def load_places() -> Places:
    """The municipality tables, read and checked."""
    municipalities = _municipalities()
    return Places(
        municipalities=municipalities,
        names=_names(municipalities, rows("not_municipalities.csv")),
        changes=_changes(municipalities),
        not_municipalities=_not_municipalities(),
    )
