"""Law references as people write them, read into a law version and a section (pure).

'strl. 321', 'STRL-321', 'straffeloven § 266 a', 'tolloven § 16-1' name the law in force;
'straffeloven (1902) § 231', 'strl. 1902 § 231', 'straffeloven av 1902 § 231', 'gml. strl.
§ 231', 'den gamle straffeloven § 231', 'almindelig borgerlig straffelov § 231',
'straffeloven av 22. mai 1902 nr. 10 § 231', 'LOV-1902-05-22-10 § 231', '§ 231 i
straffeloven av 1902' and 'strl1902-231' name the repealed one; 'straffeloven (2005) § 274'
and 'ny straffelov § 274' name the one in force explicitly. Law names, abbreviations and
versions come from the reference tables (laws.csv, law_versions.csv).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.reference import LawVersion, Reference, name_key

_MONTHS = {
    **dict.fromkeys(("januar", "jan"), 1),
    **dict.fromkeys(("februar", "feb"), 2),
    **dict.fromkeys(("mars", "mar"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    "mai": 5,
    **dict.fromkeys(("juni", "jun"), 6),
    **dict.fromkeys(("juli", "jul"), 7),
    **dict.fromkeys(("august", "aug"), 8),
    **dict.fromkeys(("september", "sep", "sept"), 9),
    **dict.fromkeys(("oktober", "okt"), 10),
    **dict.fromkeys(("november", "nov"), 11),
    **dict.fromkeys(("desember", "des"), 12),
}
_OLD = r"gml\.\s*|(?:gml|gamle?|gammel|tidligere|opphevede?)\s+"
_NEW = r"nye?\s+"
_OLD_IN_BRACKETS = r"gml\.?|gamle?|gammel"
_NEW_IN_BRACKETS = r"nye?"
_REFERENCE = re.compile(
    rf"""^(?:den\s+)?(?:(?P<old>{_OLD})|(?P<new>{_NEW}))?
    (?P<name>[a-zæøå]+(?:\s+[a-zæøå]+)*?)\.?\s*
    (?:\(\s*(?:(?P<old2>{_OLD_IN_BRACKETS})|(?P<new2>{_NEW_IN_BRACKETS}))\s*\)\s*)?
    (?:\(\s*(?P<year1>\d{{4}})\s*\)
      |-(?P<id>\d{{4}}-\d{{2}}-\d{{2}}-\d+)
      |(?:av\s+|fra\s+)?(?:(?P<day>\d{{1,2}})\.?\s*(?P<month>[a-zæøå]+)\.?\s+)?
       (?P<year2>1[89]\d\d|20\d\d)(?:\s*nr\.?\s*(?P<nr>\d+))?(?!\d)
    )?
    [\s\-§.,:]*
    (?P<section>\d+(?:-\d+)?)(?:\s?(?P<letter>[a-z])(?![a-zæøå]))?
    (?:\s*\(\s*(?:(?P<year3>\d{{4}})|(?P<old3>{_OLD_IN_BRACKETS})|(?P<new3>{_NEW_IN_BRACKETS}))
       \s*\))?""",
    re.X,
)
# '§ 231 i straffeloven av 1902': the section first, the law after it.
_SECTION_FIRST = re.compile(
    r"^§+\s*(?P<section>\d+(?:-\d+)?(?:(?!\s?i\s)\s?[a-z](?![a-zæøå]))?)"
    r"\s*(?:i|etter|,)?\s+(?P<law>.+)$"
)


@dataclass(frozen=True, slots=True)
class LawReference:
    """A law reference read: `law` is the code of the version cited ('strl', 'strl1902', or
    'toll1966' for a version the tables do not know), `family` the law's code whatever the
    version ('strl'), `section` as in the law ('266a'), `year` the year named, if any."""

    law: str
    family: str
    section: str
    # The text named the version: a year, a date, 'gml.'/'ny', or a name only one has.
    versioned: bool
    year: int | None = None
    # The version is one the reference tables know (a year they do not know is not).
    known: bool = True

    @property
    def code(self) -> str:
        """The canonical offence code: 'strl-321', 'strl1902-231'."""
        return f"{self.law}-{self.section}"

    def written_short(self) -> str:
        """A short form that reads back the same (version named or not)."""
        return self.code if self.versioned else f"{self.law} § {self.section}"


def read(text: str, ref: Reference) -> LawReference | None:
    """The law reference in `text`, or None when no known law and section can be read."""
    key = name_key(text)
    first = _SECTION_FIRST.match(key)
    if first is not None:
        key = f"{first.group('law')} § {first.group('section')}"
    match = _REFERENCE.match(key)
    if match is None:
        return None
    section = match.group("section") + (match.group("letter") or "")
    return _version(match, section, ref)


def _lovdata_id(match: re.Match[str]) -> str | None:
    if match.group("id"):
        return match.group("id")
    day, month, nr = match.group("day"), match.group("month"), match.group("nr")
    if day is None or nr is None:
        return None
    number = _MONTHS.get(month.rstrip("."))
    if number is None:
        return None
    return f"{match.group('year2')}-{number:02d}-{int(day):02d}-{nr}"


def _version(match: re.Match[str], section: str, ref: Reference) -> LawReference | None:
    name = match.group("name")
    law_id = _lovdata_id(match)
    by_id = next((v for v in ref.law_versions.values() if v.lovdata_id == law_id), None)
    if law_id is not None and by_id is None:
        return None
    named = ref.law_aliases.get(name) or (by_id.code if by_id and name == "lov" else None)
    version = ref.law_versions.get(named) if named else None
    if version is None:
        return None
    if by_id is not None:
        # The date and number name the law exactly; the name must be one of its names.
        same = by_id.law == version.law
        return LawReference(by_id.code, by_id.law, section, True, by_id.year) if same else None
    year_text = match.group("year1") or match.group("year2") or match.group("year3")
    old = match.group("old") or match.group("old2") or match.group("old3")
    new = match.group("new") or match.group("new2") or match.group("new3")
    if year_text is not None:
        return _by_year(version, int(year_text), section, ref)
    if old or new:
        wanted = [
            v for v in ref.law_versions.values() if v.law == version.law and v.in_force == bool(new)
        ]
        if len(wanted) != 1 or (not version.in_force and new):
            return None
        return LawReference(wanted[0].code, version.law, section, True, wanted[0].year)
    # A name only a repealed version has ('almindelig borgerlig straffelov') names it.
    named_version = not version.in_force
    year = version.year if named_version else None
    return LawReference(version.code, version.law, section, named_version, year)


def _by_year(version: LawVersion, year: int, section: str, ref: Reference) -> LawReference | None:
    found = next(
        (v for v in ref.law_versions.values() if v.law == version.law and v.year == year), None
    )
    if found is None:
        # A version the tables do not know: kept recognisable, never read as today's law.
        return LawReference(f"{version.law}{year}", version.law, section, True, year, known=False)
    if not version.in_force and found.code != version.code:
        return None  # 'almindelig borgerlig straffelov (2005)' contradicts itself
    return LawReference(found.code, version.law, section, True, year)
