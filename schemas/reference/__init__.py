"""Reference code lists: municipalities with their police district, offences and laws.

Loaded once per process from the CSV files beside this module; lookups are by code.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

import msgspec

from schemas.decision import Priority

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

SSB_GROUPS: tuple[str, ...] = (
    "Eiendomstyveri",
    "Annet vinningslovbrudd",
    "Eiendomsskade",
    "Vold og mishandling",
    "Seksuallovbrudd",
    "Rusmiddellovbrudd",
    "Ordens- og integritetskrenkelse",
    "Trafikkovertredelse",
    "Annet lovbrudd",
)


class Municipality(msgspec.Struct, frozen=True):
    """A municipality (2024 numbering) and the police district that covers it."""

    number: str
    name: str
    county_number: str
    county_name: str
    police_district: str


class Offence(msgspec.Struct, frozen=True):
    """One entry of the offence catalogue."""

    code: str
    law: str
    section: str
    title_nb: str
    ssb_group: str
    default_priority: Priority


@dataclass(frozen=True, slots=True)
class Reference:
    """All reference lists, indexed by code."""

    municipalities: dict[str, Municipality]
    offences: dict[str, Offence]
    law_aliases: dict[str, str]
    offence_labels: dict[str, str]
    # casefolded name -> kommunenummer; None where two municipalities share the name
    municipality_names: dict[str, str | None]

    def district_of(self, municipality: str | None) -> str | None:
        """The police district covering a kommunenummer, or None when unknown."""
        if municipality is None:
            return None
        found = self.municipalities.get(municipality)
        return found.police_district if found else None

    def municipality_named(self, name: str) -> str | None:
        """The kommunenummer of a municipality by its name, or None when unknown or ambiguous."""
        return self.municipality_names.get(name.strip().casefold())

    def offence(self, code: str) -> Offence | None:
        """The catalogue entry for a canonical offence code."""
        return self.offences.get(code)


class ReferenceDataError(ValueError):
    """A reference file breaks its own rules."""


def _rows(name: str) -> list[dict[str, str]]:
    with (HERE / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _municipalities() -> dict[str, Municipality]:
    result: dict[str, Municipality] = {}
    for line, row in enumerate(_rows("municipalities.csv"), start=2):
        if row["police_district"] not in POLICE_DISTRICTS:
            raise ReferenceDataError(f"municipalities.csv:{line}: unknown police district")
        result[row["kommunenummer"]] = Municipality(
            number=row["kommunenummer"],
            name=row["name"],
            county_number=row["county_number"],
            county_name=row["county_name"],
            police_district=row["police_district"],
        )
    return result


def _offences() -> dict[str, Offence]:
    result: dict[str, Offence] = {}
    for line, row in enumerate(_rows("offences.csv"), start=2):
        if row["ssb_group"] not in SSB_GROUPS:
            raise ReferenceDataError(f"offences.csv:{line}: unknown SSB group {row['ssb_group']!r}")
        if row["code"] != f"{row['law']}-{row['section']}":
            raise ReferenceDataError(f"offences.csv:{line}: code is not '<law>-<section>'")
        result[row["code"]] = msgspec.convert(
            {k: row[k] for k in Offence.__struct_fields__}, Offence
        )
    return result


def _labels(offences: dict[str, Offence]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for line, row in enumerate(_rows("offence_labels.csv"), start=2):
        if row["code"] not in offences:
            raise ReferenceDataError(f"offence_labels.csv:{line}: unknown offence {row['code']!r}")
        labels[row["label"].casefold()] = row["code"]
    return labels


@functools.cache
def load() -> Reference:
    """The reference lists, read once per process."""
    offences = _offences()
    municipalities = _municipalities()
    names: dict[str, str | None] = {}
    for m in municipalities.values():
        key = m.name.casefold()
        names[key] = None if key in names else m.number
    return Reference(
        municipalities=municipalities,
        municipality_names=names,
        offences=offences,
        law_aliases={row["alias"]: row["law"] for row in _rows("laws.csv")},
        offence_labels=_labels(offences),
    )
