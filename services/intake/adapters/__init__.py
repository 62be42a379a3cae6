"""Source adapters: each upstream format converted to the canonical report, table-driven.

One module per format (citizen, patrol, agency), registered here in `ADAPTERS`. Every
adapter is a pure function from the format's Struct to a `Report`. The mappings it uses (role
codes, markers, law references) are YAML in the intake's mappings/, loaded once (`shared`);
the citizen form's categories are reference data (schemas/reference/citizen_categories.csv).
Every code and name is looked up by `name_key` (any Unicode form, case, invisible
characters or spacing). Problems that make a report unreadable are raised as `ReportProblems`
with paths in the source format; everything softer is left for standardisation to record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from schemas import sources
from schemas.reference import Reference
from schemas.report import Report
from services.intake.adapters.agency import from_agency
from services.intake.adapters.citizen import from_citizen
from services.intake.adapters.patrol import from_patrol


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
