"""The citizens' online form (nettanmeldelse) as a canonical report."""

from __future__ import annotations

from typing import Any

import msgspec

from schemas import sources
from schemas.reference import Reference, name_key
from schemas.report import Report, Role
from services.intake.adapters.shared import given, load_mapping, local
from services.intake.sourcepaths import Trace, checked
from services.intake.validation import Problem, ReportProblems

_LOCAL_TIME = "%d.%m.%Y %H:%M"
_LOCAL_DATE = "%d.%m.%Y"


class CitizenMapping(msgspec.Struct, forbid_unknown_fields=True):
    source: str


def _name(person: sources.CitizenPerson) -> str | None:
    parts = [p for p in (given(person.fornavn), given(person.etternavn)) if p]
    return " ".join(parts) if parts else None


def _citizen_person(
    person: sources.CitizenPerson, role: Role, path: str, problems: list[Problem]
) -> dict[str, Any]:
    born = (
        local(person.fodselsdato, _LOCAL_DATE, f"{path}.fodselsdato", problems)
        if person.fodselsdato
        else None
    )
    return {
        "role": role,
        "national_id": given(person.fodselsnummer),
        "birth_date": born.date() if born else None,
        "name": _name(person),
        "phone": given(person.telefon),
    }


def from_citizen(form: sources.CitizenReport, ref: Reference) -> Report:
    """The online form: Norwegian field names, local times, a category from the form's list
    (schemas/reference/citizen_categories.csv; another is passed on as a label), the
    municipality by number and/or name (standardisation resolves the name)."""
    mapping: CitizenMapping = load_mapping("citizen", CitizenMapping)
    problems: list[Problem] = []
    reported = local(form.innsendt, _LOCAL_TIME, "$.innsendt", problems)
    start = local(form.hendelse_fra, _LOCAL_TIME, "$.hendelse_fra", problems)
    end = (
        local(form.hendelse_til, _LOCAL_TIME, "$.hendelse_til", problems)
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
                "municipality_name": given(form.kommune),
                "address": given(form.adresse),
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
