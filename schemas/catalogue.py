"""The unit catalogue as the router records it with each rule load (`rule_loads.catalogue`)
and the operations page reads it back: districts, each with its units, and the national
units."""

from __future__ import annotations

import msgspec


class CatalogueUnit(msgspec.Struct):
    """One unit of the catalogue: its id (`district.section`), section and name."""

    unit: str
    section: str
    name: str


class District(msgspec.Struct):
    """One district of the catalogue: its units and the unit its cases go to by default."""

    name: str
    slug: str
    default: str
    units: list[CatalogueUnit]


class NationalUnit(msgspec.Struct):
    """A unit serving every district (Kripos, Økokrim): its id (`kripos`) and name."""

    unit: str
    name: str


class Catalogue(msgspec.Struct):
    """The unit catalogue as the router recorded it with its last rule load; `national` is
    empty in a load recorded before national units existed."""

    districts: list[District]
    national: list[NationalUnit] = []
