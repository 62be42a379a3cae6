"""The unit catalogue (units.yaml): police districts, their sections and units, and the
national units (Kripos, Økokrim), checked."""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.decision import TRIAGE_UNIT
from schemas.reference import Reference
from services.common.rules.reading import (
    Reader,
    UnknownReferenceError,
    WrongTypeError,
    parse_yaml,
    suggestion,
)

# A unit id is a queue name's tail and a routing key: `<district slug>.<section>` for a
# district's unit, a bare slug for a national unit. Slugs are plain lowercase words joined by
# `-`, so an id never holds a dot of its own and a national id never looks like a district's.
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NORDIC = str.maketrans("øæåØÆÅ", "oaaoaa")


@dataclass(frozen=True, slots=True)
class District:
    """A police district's slug, sections and default section."""

    name: str
    slug: str
    sections: tuple[str, ...]
    default: str

    def unit(self, section: str) -> str:
        return f"{self.slug}.{section}"


@dataclass(frozen=True, slots=True)
class NationalUnit:
    """A unit serving every district (its id is a bare slug: `kripos`), with its name."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Districts and their units, and the national units (no district)."""

    section_names: dict[str, str]
    districts: dict[str, District]
    national: dict[str, NationalUnit]

    @property
    def units(self) -> tuple[str, ...]:
        """Every unit id: the districts' units in catalogue order, then the national ones."""
        own = tuple(d.unit(s) for d in self.districts.values() for s in d.sections)
        return own + tuple(self.national)

    def district_of_unit(self, unit: str) -> District | None:
        """The district a unit belongs to; None for a national or unknown unit."""
        slug, dot, section = unit.partition(".")
        if not dot:
            return None
        return next(
            (d for d in self.districts.values() if d.slug == slug and section in d.sections),
            None,
        )

    def unit_name(self, unit: str) -> str | None:
        """A unit's name (a national unit's, or its district's section's); None if unknown."""
        if unit in self.national:
            return self.national[unit].name
        district = self.district_of_unit(unit)
        return None if district is None else self.section_names[unit.partition(".")[2]]


def district_slug(name: str) -> str:
    """A police district's slug from its name (`Sør-Øst` -> `sor-ost`, `Møre og Romsdal` ->
    `more-og-romsdal`): lower case, spaces as hyphens, ø/æ/å as o/a/a; the SQL function
    `district_slug` of migration 0018, by which the intake places a rules' decision (which
    names the district) for the people whose tokens name slugs."""
    return name.replace(" ", "-").translate(_NORDIC).lower()


def _slug(read: Reader, value: str, line: int, what: str) -> str:
    if not _SLUG.match(value):
        raise read.fail(
            WrongTypeError,
            f"{what} `{value}` must be lowercase letters and digits joined by `-`",
            line,
        )
    return value


def _national(read: Reader, raw: object, line: int, slugs: set[str]) -> dict[str, NationalUnit]:
    if raw is None:
        return {}
    units = read.mapping(raw, line, "national")
    found: dict[str, NationalUnit] = {}
    for unit_id, spec in units.items():
        at = units.key_lines[unit_id]
        _slug(read, unit_id, at, "the id of a national unit")
        if unit_id == TRIAGE_UNIT or unit_id in slugs:
            taken = "triage's" if unit_id == TRIAGE_UNIT else "a district's slug"
            raise read.fail(WrongTypeError, f"national unit `{unit_id}`: the id is {taken}", at)
        spec = read.mapping(spec, at, f"national unit {unit_id}", {"name"})
        name = read.text(spec.get("name"), at, f"the `name` of national unit {unit_id}")
        found[unit_id] = NationalUnit(unit_id, name)
    return found


def load_catalogue(text: str, file: str, reference: Reference) -> Catalogue:
    """The unit catalogue from its YAML text; a `RulesError` naming the line when a key,
    name, slug or section is wrong."""
    read = Reader(file)
    doc = read.mapping(
        parse_yaml(text, file), 1, "the unit catalogue", {"sections", "districts", "national"}
    )
    sections = read.mapping(doc.get("sections"), doc.line, "sections")
    names = {}
    for key, title in sections.items():
        at = sections.key_lines[key]
        names[_slug(read, key, at, "section")] = read.text(title, at, f"the name of section {key}")
    districts: dict[str, District] = {}
    raw = read.mapping(doc.get("districts"), doc.line, "districts")
    known = {m.police_district for m in reference.municipalities.values()}
    slugs: set[str] = set()
    for name, spec in raw.items():
        line = raw.key_lines[name]
        if name not in known:
            hint = suggestion(name, known)
            raise read.fail(UnknownReferenceError, f"unknown police district `{name}`{hint}", line)
        spec = read.mapping(spec, line, f"district {name}", {"slug", "default", "sections"})
        slug = read.text(spec.get("slug"), line, f"the `slug` of district {name}")
        _slug(read, slug, line, f"the slug of district {name}")
        if slug in slugs:
            raise read.fail(WrongTypeError, f"slug `{slug}` is used by two districts", line)
        if slug != district_slug(name):
            raise read.fail(
                WrongTypeError,
                f"the slug of district {name} must be `{district_slug(name)}`, not `{slug}`: "
                "a rules' decision names the district, and a person's access is read by "
                "that spelling of its name",
                line,
            )
        slugs.add(slug)
        default = read.text(spec.get("default"), line, f"the `default` section of district {name}")
        own = tuple(read.strings(spec.get("sections", list(names)), line, "sections"))
        for section in (*own, default):
            if section not in names:
                hint = suggestion(section, names, {v: k for k, v in names.items()})
                raise read.fail(UnknownReferenceError, f"unknown section `{section}`{hint}", line)
        districts[name] = District(name, slug, own, default)
    missing = known - set(districts)
    if missing:
        raise read.fail(
            UnknownReferenceError,
            f"districts without units: {', '.join(sorted(missing))}",
            doc.line,
        )
    national = _national(read, doc.get("national"), doc.key_lines.get("national", doc.line), slugs)
    return Catalogue(names, districts, national)
