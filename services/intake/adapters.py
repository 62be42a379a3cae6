"""Source adapters: each upstream format converted to the canonical report, table-driven.

Every adapter is a pure function from the format's Struct to a `Report`. The mappings it
uses (role codes, markers, law references) are YAML beside this module, loaded once; the
citizen form's categories are reference data (schemas/reference/citizen_categories.csv).
Every code and name is looked up by `name_key` (any Unicode form, case, invisible
characters or spacing). Problems that make a report unreadable are raised as `ReportProblems`
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
from schemas.reference import Reference, name_key, visible_text
from schemas.report import Report, Role
from services.common import lawrefs, yamltext
from services.intake.sourcepaths import Trace, checked
from services.intake.validation import Problem, ReportProblems

MAPPINGS = Path(__file__).parent / "mappings"
_LOCAL_TIME = "%d.%m.%Y %H:%M"
_LOCAL_DATE = "%d.%m.%Y"


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


def _given(value: str | None) -> str | None:
    """An optional text as the sender meant it: '' or nothing visible (spaces, invisible
    characters) is not given, as if the field were left out."""
    return value if value is not None and visible_text(value) else None


def _name(person: sources.CitizenPerson) -> str | None:
    parts = [p for p in (_given(person.fornavn), _given(person.etternavn)) if p]
    return " ".join(parts) if parts else None


def _citizen_person(
    person: sources.CitizenPerson, role: Role, path: str, problems: list[Problem]
) -> dict[str, Any]:
    born = (
        _local(person.fodselsdato, _LOCAL_DATE, f"{path}.fodselsdato", problems)
        if person.fodselsdato
        else None
    )
    return {
        "role": role,
        "national_id": _given(person.fodselsnummer),
        "birth_date": born.date() if born else None,
        "name": _name(person),
        "phone": _given(person.telefon),
    }


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
        if form.hendelse_til
        else None
    )
    reporter_role = Role.VICTIM if form.anmelder_er_fornaermet else Role.REPORTER
    people = [(form.anmelder, reporter_role, "$.anmelder")]
    people += [(p, Role.SUSPECT, f"$.mistenkte[{i}]") for i, p in enumerate(form.mistenkte)]
    people += [(p, Role.WITNESS, f"$.vitner[{i}]") for i, p in enumerate(form.vitner)]
    persons = [_citizen_person(person, role, path, problems) for person, role, path in people]
    if problems:
        raise ReportProblems(problems)

    def where(trace: Trace) -> None:
        trace.at("$", "$", external_id="referanse", reported_at="innsendt")
        trace.at("$.incident", "$", occurred_from="hendelse_fra", occurred_to="hendelse_til")
        trace.at("$.incident", "$", municipality="kommunenummer", municipality_name="kommune")
        trace.at("$.incident", "$", address="adresse", postal_code="postnummer")
        trace.at("$.incident", "$", description="beskrivelse")
        trace.at("$.offences[0]", "$.kategori")
        trace.paths["$.offences[0].label"] = "$.kategori"
        for i, (_, _, path) in enumerate(people):
            trace.at(f"$.persons[{i}]", path, national_id="fodselsnummer", phone="telefon")
            trace.at(f"$.persons[{i}]", path, birth_date="fodselsdato")
            # The name is made of two fields: a problem with it is the person's.
            trace.paths[f"$.persons[{i}].name"] = path
            trace.notes[f"$.persons[{i}].name"] = "fornavn and etternavn together, with a space"

    return checked(
        {
            "source": mapping.source,
            "external_id": form.referanse,
            "reported_at": reported,
            "incident": {
                "occurred_from": start,
                "occurred_to": end,
                "municipality": form.kommunenummer,
                "municipality_name": _given(form.kommune),
                "address": _given(form.adresse),
                "postal_code": form.postnummer,
                "description": form.beskrivelse,
            },
            "offences": [
                {
                    "code": ref.citizen_categories.get(name_key(form.kategori)),
                    "label": form.kategori,
                }
            ],
            "persons": persons,
            "flags": {"domestic_violence": form.nare_relasjoner, "hate_motive": form.hatmotiv},
        },
        where,
    )


def from_patrol(patrol: sources.PatrolReport, _ref: Reference) -> Report:
    """A patrol's on-scene report: role and marker codes from the patrol mapping."""
    mapping: PatrolMapping = _mapping("patrol", PatrolMapping)
    problems: list[Problem] = []
    persons: list[dict[str, Any]] = []
    origins: list[int] = []  # the source index of each person kept
    for i, person in enumerate(patrol.people):
        role = mapping.roles.get(name_key(person.r))
        if role is None:
            problems.append(Problem(f"$.people[{i}].r", "unknown role code"))
            continue
        origins.append(i)
        persons.append(
            {
                "role": role,
                "national_id": _given(person.fnr),
                "birth_date": person.dob,
                "name": _given(person.name),
                "phone": _given(person.tlf),
                "arrested_at": person.arrest.at if person.arrest else None,
            }
        )
    flags: dict[str, bool] = {}
    for i, marker in enumerate(patrol.markers):
        flag = mapping.markers.get(name_key(marker))
        if flag is None:
            problems.append(Problem(f"$.markers[{i}]", "unknown marker"))
        else:
            flags[flag] = True
    if problems:
        raise ReportProblems(problems)

    def where(trace: Trace) -> None:
        trace.at("$", "$", external_id="case_ref", reported_at="logged_at")
        trace.at("$.incident", "$", occurred_from="started", occurred_to="ended")
        trace.at("$.incident", "$", description="narrative")
        trace.at("$.incident", "$.scene", municipality="kommune", address="address")
        for i in range(len(patrol.codes)):
            trace.at(f"$.offences[{i}]", f"$.codes[{i}]")
            trace.paths[f"$.offences[{i}].code"] = f"$.codes[{i}]"
        for k, i in enumerate(origins):
            trace.at(f"$.persons[{k}]", f"$.people[{i}]", national_id="fnr", name="name")
            trace.at(f"$.persons[{k}]", f"$.people[{i}]", phone="tlf", birth_date="dob")
            trace.paths[f"$.persons[{k}].arrested_at"] = f"$.people[{i}].arrest.at"

    return checked(
        {
            "source": mapping.source,
            "external_id": patrol.case_ref,
            "reported_at": patrol.logged_at,
            "incident": {
                "occurred_from": patrol.started,
                "occurred_to": patrol.ended,
                "municipality": patrol.scene.kommune,
                "address": _given(patrol.scene.address),
                "description": patrol.narrative,
            },
            "offences": [{"code": code} for code in patrol.codes],
            "persons": persons,
            "flags": flags,
        },
        where,
    )


def _agency_code(count: sources.AgencyCount, mapping: AgencyMapping, ref: Reference) -> str:
    reference = " ".join(count.lovhenvisning.split())
    explicit = mapping.law_references.get(name_key(reference))
    if explicit is not None:
        return explicit
    if len(reference) <= 64:
        # Passed on as written: standardisation reads it (its version, its year) as it
        # reads every law reference, and records what it cannot read.
        return reference
    read = lawrefs.read(reference, ref)
    if read is not None and read.clear:
        return read.written_short()
    # Too long for an offence code and not plainly one offence: shortened visibly, so that
    # standardisation finds it unclear and a person reads the whole in the raw report.
    return reference[:63] + "…"


def from_agency(report: sources.AgencyReport, ref: Reference) -> Report:
    """A partner agency's report: counts by law reference, parties with ids."""
    mapping: AgencyMapping = _mapping("agency", AgencyMapping)
    problems: list[Problem] = []
    persons: list[dict[str, Any]] = []
    origins: list[int] = []  # the source index of each person kept
    for i, party in enumerate(report.involverte):
        role = mapping.roles.get(name_key(party.rolle))
        if role is None:
            problems.append(Problem(f"$.involverte[{i}].rolle", "unknown role"))
        elif party.type == "person":
            origins.append(i)
            persons.append(
                {
                    "role": role,
                    "national_id": _given(party.fodselsnummer),
                    "name": _given(party.navn),
                }
            )
    if problems:
        raise ReportProblems(problems)
    period = report.gjerningsperiode
    place = report.gjerningssted or sources.AgencyPlace()
    org = report.avsender.organisasjonsnummer.replace(" ", "")

    def where(trace: Trace) -> None:
        trace.at("$", "$", external_id="meldingsId", reported_at="meldingstidspunkt")
        trace.at(
            "$", "$.avsender", reporter_org="organisasjonsnummer", source="organisasjonsnummer"
        )
        trace.at("$.incident", "$.gjerningsperiode", occurred_from="fra", occurred_to="til")
        trace.at(
            "$.incident", "$.gjerningssted", municipality="kommunenummer", address="beskrivelse"
        )
        trace.paths["$.incident.description"] = "$.sammendrag"
        for i in range(len(report.forhold)):
            trace.at(f"$.offences[{i}]", f"$.forhold[{i}]", code="lovhenvisning")
        for k, i in enumerate(origins):
            trace.at(
                f"$.persons[{k}]", f"$.involverte[{i}]", national_id="fodselsnummer", name="navn"
            )

    return checked(
        {
            "source": f"{mapping.source_prefix}{org}",
            "external_id": report.meldings_id,
            "reported_at": report.meldingstidspunkt,
            "incident": {
                "occurred_from": dt.datetime.combine(period.fra, dt.time()),
                "occurred_to": dt.datetime.combine(period.til, dt.time(23, 59))
                if period.til
                else None,
                "municipality": place.kommunenummer,
                "address": _given(place.beskrivelse),
                "description": report.sammendrag,
            },
            "offences": [{"code": _agency_code(c, mapping, ref)} for c in report.forhold],
            "persons": persons,
            "reporter_org": org,
        },
        where,
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
