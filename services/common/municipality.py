"""Where it happened: a number or a name made a 2024 kommunenummer, or why not (pure)."""

from __future__ import annotations

from schemas.reference import Reference
from services.common.findings import Findings
from services.common.text import quoted

NUMBER_PATH = "$.incident.municipality"
NAME_PATH = "$.incident.municipality_name"


def resolve(number: str | None, name: str | None, ref: Reference, found: Findings) -> str | None:
    """The 2024 kommunenummer for a number and/or a name as sent (None when neither tells).

    A 2020-2023 number becomes its 2024 number with a note (`municipality.renumbered`); a
    number that was split (1507 Ålesund) is kept with `municipality.split` unless the name
    tells which part; Svalbard (2100) is kept with `municipality.svalbard`; a name alone
    resolves through the reference's names (Sami and Kven names too) or is recorded as
    `municipality.ambiguous` or `municipality.unknown_name`; a name naming another
    municipality than the number is `municipality.name_mismatch`.
    """
    named = ref.municipality_named(name) if name else ()
    if number is not None:
        number = _by_number(number, name, named, ref, found)
        if name and named and number in ref.municipalities and number not in named:
            found.issue(
                "municipality.name_mismatch",
                NAME_PATH,
                f"{quoted(name)} is the name of {_describe(named, ref)}, "
                f"not of {_describe((number,), ref)}",
            )
        return number
    if name is None:
        return None
    if not named:
        found.issue(
            "municipality.unknown_name",
            NAME_PATH,
            f"{quoted(name)} is not the name of a municipality "
            "(2024 list, Sami and Kven names included)",
        )
        return None
    if len(named) > 1:
        found.issue(
            "municipality.ambiguous",
            NAME_PATH,
            f"{quoted(name)} is the name of {len(named)} municipalities: {_describe(named, ref)}; "
            "the kommunenummer tells which",
        )
        return None
    _not_a_municipality(named[0], NAME_PATH, ref, found)
    return named[0]


def _by_number(
    number: str, name: str | None, named: tuple[str, ...], ref: Reference, found: Findings
) -> str:
    if number in ref.municipalities or _not_a_municipality(number, NUMBER_PATH, ref, found):
        return number
    successors = ref.municipality_changes.get(number, ())
    if len(successors) == 1:
        found.note(
            "municipality.renumbered",
            NUMBER_PATH,
            f"{number} is a 2020-2023 number; since 1 January 2024 it is "
            f"{_describe(successors, ref)}",
        )
        return successors[0]
    if successors:
        told = [n for n in successors if n in named]
        if len(told) == 1:
            found.note(
                "municipality.renumbered",
                NUMBER_PATH,
                f"{number} was split on 1 January 2024 into {_describe(successors, ref)}; "
                f"the name {quoted(str(name))} tells {_describe(tuple(told), ref)}",
            )
            return told[0]
        found.issue(
            "municipality.split",
            NUMBER_PATH,
            f"{number} was split on 1 January 2024 into {_describe(successors, ref)}; "
            "which one needs the address",
        )
        return number
    found.issue(
        "municipality.unknown", NUMBER_PATH, f"{number} is not a municipality in the 2024 numbering"
    )
    return number


def _not_a_municipality(number: str, path: str, ref: Reference, found: Findings) -> bool:
    place = ref.not_municipalities.get(number)
    if place is None:
        return False
    found.issue(
        "municipality.svalbard",
        path,
        f"{number} is {place.name}: not a municipality and in none of the 12 police "
        f"districts; the police authority there is {place.police_authority}",
    )
    return True


def _describe(numbers: tuple[str, ...], ref: Reference) -> str:
    parts = []
    for number in numbers:
        m = ref.municipalities.get(number)
        place = ref.not_municipalities.get(number)
        label = f"{m.name} ({m.county_name})" if m else place.name if place else "unknown"
        parts.append(f"{number} {label}")
    return " and ".join(parts) if len(parts) <= 2 else ", ".join(parts)
