"""Reference code lists: municipalities with their police district, offences and laws.

Loaded once per process from the CSV files beside this module (sources in the *.SOURCES.md
files); lookups are by code, or by name through one key (`names.name_key`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from schemas.reference.laws import (
    SSB_GROUPS,
    Conversion,
    LawVersion,
    Offence,
    load_laws,
)
from schemas.reference.names import name_key, visible_text
from schemas.reference.places import (
    HERE,
    POLICE_DISTRICTS,
    Municipality,
    NotMunicipality,
    ReferenceDataError,
    load_places,
)

__all__ = [
    "HERE",
    "POLICE_DISTRICTS",
    "SSB_GROUPS",
    "Conversion",
    "LawVersion",
    "Municipality",
    "NotMunicipality",
    "Offence",
    "Reference",
    "ReferenceDataError",
    "load",
    "name_key",
    "visible_text",
]


# 'Oslo kommune': the word people write after a municipality's name.
_MUNICIPALITY_WORD = " kommune"


@dataclass(frozen=True, slots=True)
class Reference:
    """All reference lists, indexed by code (and by name key where people write names)."""

    municipalities: dict[str, Municipality]
    offences: dict[str, Offence]
    # name_key(alias) -> law code: 'straffeloven' -> 'strl', 'almindelig borgerlig
    # straffelov' -> 'strl1902'
    law_aliases: dict[str, str]
    # name_key(label) -> offence code: the free labels and the citizen form's categories
    offence_labels: dict[str, str]
    # name_key(category) -> offence code: the citizen form's categories alone
    citizen_categories: dict[str, str]
    # name_key(name) -> kommunenummer(s): names, Sami and Kven names, 'Våler (Østfold)'
    municipality_names: dict[str, tuple[str, ...]]
    # a 2020-2023 kommunenummer -> its 2024 number(s); several where it was split
    municipality_changes: dict[str, tuple[str, ...]]
    not_municipalities: dict[str, NotMunicipality]
    # law code -> its version ('strl' -> straffeloven 2005, 'strl1902' -> 1902)
    law_versions: dict[str, LawVersion]
    # repealed law code -> section -> what it corresponds to in the law in force
    conversions: dict[str, dict[str, Conversion]]

    def district_of(self, municipality: str | None) -> str | None:
        """The police district covering a kommunenummer, or None when unknown."""
        if municipality is None:
            return None
        found = self.municipalities.get(municipality)
        return found.police_district if found else None

    def municipality_named(self, name: str) -> tuple[str, ...]:
        """The numbers of the municipalities (or other places) with this name: none when
        unknown, several when ambiguous ('Våler'). Any Unicode form, case or spacing; an
        SSB-style combined name ('Porsanger - Porsáŋgu - Porsanki') in any order; with the
        word 'kommune' after it ('Oslo kommune', 'Guovdageaidnu kommune'). The Sami and Kven
        words for a municipality ('suohkan', 'komuuni') are not read: the reference data holds
        no name written with them (their forms also change the name: 'Guovdageainnu')."""
        key = name_key(name)
        found = self._named(key)
        if found or not key.endswith(_MUNICIPALITY_WORD):
            return found
        return self._named(key.removesuffix(_MUNICIPALITY_WORD).rstrip(" -,"))

    def _named(self, key: str) -> tuple[str, ...]:
        found = self.municipality_names.get(key)
        if found is not None:
            return found
        parts = [p for p in key.split(" - ") if p]
        if len(parts) < 2:
            return ()
        # Each part must name the same places; 'Bergen - Oslo' names none.
        common = set(self.municipality_names.get(parts[0], ()))
        for part in parts[1:]:
            common &= set(self.municipality_names.get(part, ()))
        return tuple(sorted(common))

    def offence(self, code: str) -> Offence | None:
        """The catalogue entry for a canonical offence code."""
        return self.offences.get(code)

    def in_force(self, law: str) -> LawVersion | None:
        """The version in force of a law ('strl' -> straffeloven 2005), None if none is."""
        return next((v for v in self.law_versions.values() if v.law == law and v.in_force), None)


@functools.cache
def load() -> Reference:
    """The reference lists, read once per process."""
    places = load_places()
    laws = load_laws()
    return Reference(
        municipalities=places.municipalities,
        offences=laws.offences,
        law_aliases=laws.law_aliases,
        offence_labels=laws.offence_labels,
        citizen_categories=laws.citizen_categories,
        municipality_names=places.names,
        municipality_changes=places.changes,
        not_municipalities=places.not_municipalities,
        law_versions=laws.versions,
        conversions=laws.conversions,
    )
