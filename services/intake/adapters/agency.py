"""A partner agency's report as a canonical report."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from schemas import sources
from schemas.reference import Reference, name_key
from schemas.report import Report, Role
from services.common import lawrefs
from services.intake.adapters.shared import given, load_mapping
from services.intake.sourcepaths import Trace, checked
from services.intake.validation import Problem, ReportProblems


class AgencyMapping(msgspec.Struct, forbid_unknown_fields=True):
    source_prefix: str
    roles: dict[str, Role]
    law_references: dict[str, str]

    def __post_init__(self) -> None:
        # Looked up by name key, so keyed by it once here.
        self.roles = {name_key(k): v for k, v in self.roles.items()}
        self.law_references = {name_key(k): v for k, v in self.law_references.items()}


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
    mapping: AgencyMapping = load_mapping("agency", AgencyMapping)
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
                    "national_id": given(party.fodselsnummer),
                    "name": given(party.navn),
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
                "address": given(place.beskrivelse),
                "description": report.sammendrag,
            },
            "offences": [{"code": _agency_code(c, mapping, ref)} for c in report.forhold],
            "persons": persons,
            "reporter_org": org,
        },
        where,
    )
