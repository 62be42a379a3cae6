"""The unit catalogue (units.yaml): police districts, their sections and units, checked."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.reference import Reference
from services.common.rules.reading import Reader, UnknownReferenceError, parse_yaml, suggestion


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
class Catalogue:
    """Districts and their units."""

    section_names: dict[str, str]
    districts: dict[str, District]

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(d.unit(s) for d in self.districts.values() for s in d.sections)


def load_catalogue(text: str, file: str, reference: Reference) -> Catalogue:
    """The unit catalogue from its YAML text."""
    read = Reader(file)
    doc = read.mapping(parse_yaml(text, file), 1, "the unit catalogue", {"sections", "districts"})
    sections = read.mapping(doc.get("sections"), doc.line, "sections")
    names = {}
    for key, title in sections.items():
        names[key] = read.text(title, sections.key_lines[key], f"the name of section {key}")
    districts: dict[str, District] = {}
    raw = read.mapping(doc.get("districts"), doc.line, "districts")
    known = {m.police_district for m in reference.municipalities.values()}
    for name, spec in raw.items():
        line = raw.key_lines[name]
        if name not in known:
            hint = suggestion(name, known)
            raise read.fail(UnknownReferenceError, f"unknown police district `{name}`{hint}", line)
        spec = read.mapping(spec, line, f"district {name}", {"slug", "default", "sections"})
        slug = read.text(spec.get("slug"), line, f"the `slug` of district {name}")
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
    return Catalogue(names, districts)
