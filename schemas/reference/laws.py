"""Laws and offences: catalogue, labels, law names and versions, the 1902 conversion table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import msgspec

from schemas.decision import Priority
from schemas.reference.names import name_key
from schemas.reference.places import ReferenceDataError, rows

SSB_GROUPS: tuple[str, ...] = (
    "Eiendomstyveri",
    "Annet vinningslovbrudd",
    "Eiendomsskade",
    "Vold og mishandling",
    "Seksuallovbrudd",
    "Rusmiddellovbrudd",
    "Ordens- og integritetskrenkelse",
    "Trafikkovertredelse",
    "Annet lovbrudd",
)
# How a row of a conversion table is known: checked on Lovdata, stated in legal literature,
# or background knowledge that no one has checked (never used to convert).
Verified = Literal["lovdata", "literature", "background"]
_VERIFIED: tuple[Verified, ...] = ("lovdata", "literature", "background")


class Offence(msgspec.Struct, frozen=True):
    """One entry of the offence catalogue."""

    code: str
    law: str
    section: str
    title_nb: str
    ssb_group: str
    default_priority: Priority


class LawVersion(msgspec.Struct, frozen=True):
    """One version of a law: `code` is what offence codes start with ('strl', 'strl1902')."""

    law: str
    year: int
    code: str
    in_force: bool
    in_force_from: dt.date | None
    lovdata_id: str
    verified: Verified


class Conversion(msgspec.Struct, frozen=True):
    """What a section of a repealed law corresponds to in the law in force."""

    section: str
    title: str
    codes: tuple[str, ...]
    verified: Verified
    source: str

    @property
    def target(self) -> str | None:
        """The one code to convert to: only for a checked row with a single counterpart."""
        if self.verified == "background" or len(self.codes) != 1:
            return None
        return self.codes[0]


@dataclass(frozen=True, slots=True)
class Laws:
    """The law tables, indexed for lookups."""

    offences: dict[str, Offence]
    # name_key(label or form category) -> offence code
    offence_labels: dict[str, str]
    citizen_categories: dict[str, str]
    # name_key(name or abbreviation) -> law code ('straffeloven' -> 'strl')
    law_aliases: dict[str, str]
    # law code -> version ('strl' -> 2005, 'strl1902' -> 1902)
    versions: dict[str, LawVersion]
    # repealed law code -> section -> conversion
    conversions: dict[str, dict[str, Conversion]]


def _offences() -> dict[str, Offence]:
    result: dict[str, Offence] = {}
    for line, row in enumerate(rows("offences.csv"), start=2):
        if row["ssb_group"] not in SSB_GROUPS:
            raise ReferenceDataError(f"offences.csv:{line}: unknown SSB group {row['ssb_group']!r}")
        if row["code"] != f"{row['law']}-{row['section']}":
            raise ReferenceDataError(f"offences.csv:{line}: code is not '<law>-<section>'")
        result[row["code"]] = msgspec.convert(
            {k: row[k] for k in Offence.__struct_fields__}, Offence
        )
    return result


def _labels(file: str, column: str, offences: dict[str, Offence]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for line, row in enumerate(rows(file), start=2):
        key, code = name_key(row[column]), row["code"]
        if code not in offences:
            raise ReferenceDataError(f"{file}:{line}: unknown offence {code!r}")
        if labels.get(key, code) != code:
            raise ReferenceDataError(f"{file}:{line}: {row[column]!r} is listed twice")
        labels[key] = code
    return labels


def _verified(text: str, where: str) -> Verified:
    for known in _VERIFIED:
        if text == known:
            return known
    raise ReferenceDataError(f"{where}: `verified` must be one of {_VERIFIED}, not {text!r}")


def _versions() -> dict[str, LawVersion]:
    versions: dict[str, LawVersion] = {}
    for row in rows("law_versions.csv"):
        versions[row["code"]] = LawVersion(
            law=row["law"],
            year=int(row["year"]),
            code=row["code"],
            in_force=row["in_force"] == "yes",
            in_force_from=dt.date.fromisoformat(row["in_force_from"])
            if row["in_force_from"]
            else None,
            lovdata_id=row["lovdata_id"],
            verified=_verified(row["verified"], "law_versions.csv"),
        )
    return versions


def _conversions(offences: dict[str, Offence]) -> dict[str, dict[str, Conversion]]:
    table: dict[str, Conversion] = {}
    for line, row in enumerate(rows("penal_code_1902.csv"), start=2):
        codes = tuple(row["code_2005"].split())
        unknown = [c for c in codes if c not in offences]
        if not codes or unknown:
            raise ReferenceDataError(f"penal_code_1902.csv:{line}: unknown offence {unknown}")
        table[row["section"]] = Conversion(
            section=row["section"],
            title=row["title_1902"],
            codes=codes,
            verified=_verified(row["verified"], f"penal_code_1902.csv:{line}"),
            source=row["source"],
        )
    return {"strl1902": table}


def load_laws() -> Laws:
    """The law tables, read and checked against each other."""
    offences = _offences()
    versions = _versions()
    aliases = {name_key(row["alias"]): row["law"] for row in rows("laws.csv")}
    unknown = sorted(set(aliases.values()) - set(versions))
    if unknown:
        raise ReferenceDataError(f"laws.csv: laws without a version in law_versions.csv: {unknown}")
    labels = _labels("offence_labels.csv", "label", offences)
    categories = _labels("citizen_categories.csv", "category", offences)
    clashes = sorted(k for k in labels.keys() & categories.keys() if labels[k] != categories[k])
    if clashes:
        raise ReferenceDataError(f"labels and form categories disagree on {clashes}")
    return Laws(
        offences=offences,
        offence_labels={**labels, **categories},
        citizen_categories=categories,
        law_aliases=aliases,
        versions=versions,
        conversions=_conversions(offences),
    )
