"""Source adapters: each upstream format converted to the canonical report, table-driven.

Every adapter is a pure function from the format's Struct to a `Report`. The mappings it
uses (role codes, markers, law references) are YAML beside this module, loaded once; the
citizen form's categories are reference data (schemas/reference/citizen_categories.csv).
Every code and name is looked up by `name_key` (any Unicode form, case, invisible
characters or spacing). Problems that make a report unreadable are raised as `AdapterError`
with paths in the source format; everything softer is left for standardisation to record.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from schemas import sources
from schemas.reference import Reference, name_key
from schemas.report import Flags, Incident, Offence, Person, Report, Role
from services.common import yamltext
from services.intake import lawrefs
from services.intake.validation import Problem

MAPPINGS = Path(__file__).parent / "mappings"
_LOCAL_TIME = "%d.%m.%Y %H:%M"
_LOCAL_DATE = "%d.%m.%Y"


class AdapterError(ValueError):
    """The source report cannot become a canonical one; each problem has its path."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems


class CitizenMapping(msgspec.Struct, forbid_unknown_fields=True):
    source: str


class PatrolMapping(msgspec.Struct, forbid_unknown_fields=True):
    source: str
    roles: dict[str, Role]
    markers: dict[str, str]

    def __post_init__(self) -> None:
        # Looked up by name key, so keyed by it once here.
        self.roles = {name_key(k): v for k, v in self.roles.items()}
        self.markers = {name_key(k): v for k, v in self.markers.items()}


class AgencyMapping(msgspec.Struct, forbid_unknown_fields=True):
    source_prefix: str
    roles: dict[str, Role]
    law_references: dict[str, str]

    def __post_init__(self) -> None:
        # Looked up by name key, so keyed by it once here.
        self.roles = {name_key(k): v for k, v in self.roles.items()}
        self.law_references = {name_key(k): v for k, v in self.law_references.items()}


@functools.cache
def _mapping(name: str, cls: type[Any]) -> Any:
    # Strict YAML (services.common.yamltext): a code such as `NO` or `0301` stays text.
    return yamltext.convert(yamltext.load_file(MAPPINGS / f"{name}.yaml"), cls, f"{name}.yaml")


def _local(value: str, fmt: str, path: str, problems: list[Problem]) -> Any:
    try:
        return dt.datetime.strptime(value, fmt)
    except ValueError:
        problems.append(Problem(path, "not a valid date or time"))
        return None


def _name(person: sources.CitizenPerson) -> str | None:
    parts = [p for p in (person.fornavn, person.etternavn) if p]
    return " ".join(parts) if parts else None


def _citizen_person(
    person: sources.CitizenPerson, role: Role, path: str, problems: list[Problem]
) -> Person:
    born = (
        _local(person.fodselsdato, _LOCAL_DATE, f"{path}.fodselsdato", problems)
        if (person.fodselsdato)
        else None
    )
    return Person(
        role=role,
        national_id=person.fodselsnummer or None,
        birth_date=born.date() if born else None,
        name=_name(person),
        phone=person.telefon or None,
    )


def from_citizen(form: sources.CitizenReport, ref: Reference) -> Report:
    """The online form: Norwegian field names, local times, a category from the form's list
    (schemas/reference/citizen_categories.csv; another is passed on as a label), the
    municipality by number and/or name (standardisation resolves the name)."""
    mapping: CitizenMapping = _mapping("citizen", CitizenMapping)
    problems: list[Problem] = []
    reported = _local(form.innsendt, _LOCAL_TIME, "$.innsendt", problems)
    start = _local(form.hendelse_fra, _LOCAL_TIME, "$.hendelse_fra", problems)
    end = (
        _local(form.hendelse_til, _LOCAL_TIME, "$.hendelse_til", problems)
        if (form.hendelse_til)
        else None
    )
    reporter_role = Role.VICTIM if form.anmelder_er_fornaermet else Role.REPORTER
    persons = [_citizen_person(form.anmelder, reporter_role, "$.anmelder", problems)]
    persons += [
        _citizen_person(p, Role.SUSPECT, f"$.mistenkte[{i}]", problems)
        for i, p in enumerate(form.mistenkte)
    ]
    persons += [
        _citizen_person(p, Role.WITNESS, f"$.vitner[{i}]", problems)
        for i, p in enumerate(form.vitner)
    ]
    if problems:
        raise AdapterError(problems)
    code = ref.citizen_categories.get(name_key(form.kategori))
    return Report(
        source=mapping.source,
        external_id=form.referanse,
        reported_at=reported,
        incident=Incident(
            occurred_from=start,
            occurred_to=end,
            municipality=form.kommunenummer,
            municipality_name=form.kommune if form.kommune and form.kommune.strip() else None,
            address=form.adresse or None,
            postal_code=form.postnummer,
            description=form.beskrivelse,
        ),
        offences=[Offence(code=code, label=form.kategori)],
        persons=persons,
        flags=Flags(domestic_violence=form.nare_relasjoner, hate_motive=form.hatmotiv),
    )


def from_patrol(patrol: sources.PatrolReport, _ref: Reference) -> Report:
    """A patrol's on-scene report: role and marker codes from the patrol mapping."""
    mapping: PatrolMapping = _mapping("patrol", PatrolMapping)
    problems: list[Problem] = []
    persons = []
    for i, person in enumerate(patrol.people):
        role = mapping.roles.get(name_key(person.r))
        if role is None:
            problems.append(Problem(f"$.people[{i}].r", "unknown role code"))
            continue
        persons.append(
            Person(
                role=role,
                national_id=person.fnr,
                birth_date=person.dob,
                name=person.name,
                phone=person.tlf,
                arrested_at=person.arrest.at if person.arrest else None,
            )
        )
    flags: dict[str, bool] = {}
    for i, marker in enumerate(patrol.markers):
        flag = mapping.markers.get(name_key(marker))
        if flag is None:
            problems.append(Problem(f"$.markers[{i}]", "unknown marker"))
        else:
            flags[flag] = True
    if problems:
        raise AdapterError(problems)
    return Report(
        source=mapping.source,
        external_id=patrol.case_ref,
        reported_at=patrol.logged_at,
        incident=Incident(
            occurred_from=patrol.started,
            occurred_to=patrol.ended,
            municipality=patrol.scene.kommune,
            address=patrol.scene.address,
            description=patrol.narrative,
        ),
        offences=[Offence(code=code) for code in patrol.codes],
        persons=persons,
        flags=msgspec.convert(flags, Flags),
    )


def _agency_offence(count: sources.AgencyCount, mapping: AgencyMapping, ref: Reference) -> Offence:
    reference = " ".join(count.lovhenvisning.split())
    explicit = mapping.law_references.get(name_key(reference))
    if explicit is not None:
        return Offence(code=explicit)
    if len(reference) <= 64:
        # Passed on as written: standardisation reads it (its version, its year) as it
        # reads every law reference, and records what it cannot read.
        return Offence(code=reference)
    read = lawrefs.read(reference, ref)
    return Offence(code=read.written_short() if read else reference[:64])


def from_agency(report: sources.AgencyReport, ref: Reference) -> Report:
    """A partner agency's report: counts by law reference, parties with ids."""
    mapping: AgencyMapping = _mapping("agency", AgencyMapping)
    problems: list[Problem] = []
    persons = []
    for i, party in enumerate(report.involverte):
        role = mapping.roles.get(name_key(party.rolle))
        if role is None:
            problems.append(Problem(f"$.involverte[{i}].rolle", "unknown role"))
        elif party.type == "person":
            persons.append(Person(role=role, national_id=party.fodselsnummer, name=party.navn))
    if problems:
        raise AdapterError(problems)
    period = report.gjerningsperiode
    place = report.gjerningssted or sources.AgencyPlace()
    org = report.avsender.organisasjonsnummer.replace(" ", "")
    return Report(
        source=f"{mapping.source_prefix}{org}",
        external_id=report.meldings_id,
        reported_at=report.meldingstidspunkt,
        incident=Incident(
            occurred_from=dt.datetime.combine(period.fra, dt.time()),
            occurred_to=dt.datetime.combine(period.til, dt.time(23, 59)) if period.til else None,
            municipality=place.kommunenummer,
            address=place.beskrivelse,
            description=report.sammendrag,
        ),
        offences=[_agency_offence(c, mapping, ref) for c in report.forhold],
        persons=persons,
        reporter_org=org,
    )


@dataclass(frozen=True, slots=True)
class Adapter:
    """One upstream format: its Struct and its conversion."""

    name: str
    struct: type[msgspec.Struct]
    convert: Callable[[Any, Reference], Report]


ADAPTERS: dict[str, Adapter] = {
    "citizen": Adapter("citizen", sources.CitizenReport, from_citizen),
    "patrol": Adapter("patrol", sources.PatrolReport, from_patrol),
    "agency": Adapter("agency", sources.AgencyReport, from_agency),
}
