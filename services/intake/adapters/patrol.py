"""A patrol's on-scene report as a canonical report."""

from __future__ import annotations

from typing import Any

import msgspec

from schemas import sources
from schemas.reference import Reference, name_key
from schemas.report import Report, Role
from services.intake.adapters.shared import given, load_mapping
from services.intake.sourcepaths import Trace, checked
from services.intake.validation import Problem, ReportProblems


class PatrolMapping(msgspec.Struct, forbid_unknown_fields=True):
    source: str
    roles: dict[str, Role]
    markers: dict[str, str]

    def __post_init__(self) -> None:
        # Looked up by name key, so keyed by it once here.
        self.roles = {name_key(k): v for k, v in self.roles.items()}
        self.markers = {name_key(k): v for k, v in self.markers.items()}


def from_patrol(patrol: sources.PatrolReport, _ref: Reference) -> Report:
    """A patrol's on-scene report: role and marker codes from the patrol mapping."""
    mapping: PatrolMapping = load_mapping("patrol", PatrolMapping)
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
                "national_id": given(person.fnr),
                "birth_date": person.dob,
                "name": given(person.name),
                "phone": given(person.tlf),
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
                "address": given(patrol.scene.address),
                "description": patrol.narrative,
            },
            "offences": [{"code": code} for code in patrol.codes],
            "persons": persons,
            "flags": flags,
        },
        where,
    )
