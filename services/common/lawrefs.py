"""Law references as people write them, read whole into a law version and its sections (pure).

'strl. 321', 'STRL-321', 'straffeloven § 266 a', 'tolloven § 16-1' name the law in force.
The version may stand before the section ('straffeloven (1902) § 231', 'strl. 1902 § 231',
'straffeloven av 1902 § 231', 'gml. strl. § 231', 'den gamle straffeloven § 231', 'almindelig
borgerlig straffelov § 231', 'lov 22. mai 1902 nr. 10 § 231', 'LOV-1902-05-22-10 § 231',
'strl1902-231', '§ 231 i straffeloven av 1902') or after it ('straffeloven § 231 (1902)',
'§ 231 av 1902', '§ 231, 1902', '§ 231 fra 1902', '§ 231 1902', '§ 231 (1902-loven)', '§ 231
(lov av 1902)', '§ 231 (lov 22. mai 1902 nr. 10)', '§ 231 (gml.)', '§ 231 gammel lov', '§ 231
(opphevet)', '§ 231 jf. straffeloven av 1902'); 'straffeloven (2005) § 274', '§ 274 av 2005'
and 'ny straffelov § 274' name the law in force explicitly.

After the section only these are understood, and change nothing: which ledd, punktum and
bokstav ('første ledd bokstav a, annet og tredje ledd'), 'jf.' with sections of the same law
('vegtrafikkloven § 22 jf. § 31', 'jf. straffeloven § 232'), a version as above, and more
sections ('§§ 229 og 231', '§ 229 og § 231'), which are read as such. Anything else is kept as
`unclear`: never a silent reading. Law names and versions come from laws.csv and
law_versions.csv.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from schemas.reference import Reference, name_key, visible_text

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
_END = r"(?![a-zæøå0-9])"  # a word ends here
_YEAR = r"(?:1[89]\d\d|20\d\d)(?!\d)"
_LAW_WORD = r"(?:\s*-?\s*(?:lov(?:en|a)?|straffelov(?:en|a)?)" + _END + ")?"
# A section: '321', '16-1', '266 a' (not '§ 231 i straffeloven ...', '§ 231 m.m.').
_SECTION = r"\d+(?:-\d+)?(?:\s?(?!i\s)[a-z](?![a-zæøå]|\.[a-zæøå]))?"
# More sections: '229 og 231', '229, § 231'; a year after a comma is a version ('§ 231, 1902').
_SECTIONS = rf"{_SECTION}(?:\s*(?:,|og|/|&|\+)\s*§*\s*(?!{_YEAR}){_SECTION})*"
_ONE_SECTION = re.compile(_SECTION, re.I)
_OLD = r"gml\.\s*|(?:gml|gamle?|gammel|tidligere|opphevede?)\s+"
_NEW = r"nye?\s+"
_OLD_IN_BRACKETS = r"gml\.?|gamle?|gammel"
_NEW_IN_BRACKETS = r"nye?"
_HEAD = re.compile(
    rf"""^(?:den\s+)?(?:(?P<old>{_OLD})|(?P<new>{_NEW}))?
    (?P<name>[a-zæøå]+(?:\s+[a-zæøå]+)*?)\.?\s*
    (?:\(\s*(?:(?P<old2>{_OLD_IN_BRACKETS})|(?P<new2>{_NEW_IN_BRACKETS}))\s*\)\s*)?
    (?:\(\s*(?P<year1>\d{{4}})\s*\)
      |-(?P<id>\d{{4}}-\d{{2}}-\d{{2}}-\d+)
      |(?:av\s+|fra\s+)?(?:(?P<day>\d{{1,2}})\.?\s*(?P<month>[a-zæøå]+)\.?\s+)?
       (?P<year>{_YEAR})(?:\s*nr\.?\s*(?P<nr>\d+))?
    )?
    [\s\-§.,:]*
    (?P<sections>{_SECTIONS})""",
    re.X | re.I,
)
# '§ 231 i straffeloven av 1902': the section first, the law after it.
_SECTION_FIRST = re.compile(
    r"^§+\s*(?P<section>\d+(?:-\d+)?(?:(?!\s?i\s)\s?[a-z](?![a-zæøå]))?)"
    r"\s*(?:i|etter|,)?\s+(?P<law>.+)$",
    re.I,
)
_IN = r"(?:(?:i|etter)\s+)?"  # 'i 1902-loven', 'etter den gamle loven'
_ORDINAL = r"(?:første|annet|andre|tredje|fjerde|femte|sjette|sjuende|syvende|åttende|\d+\.?)"
# What may stand after the section, tried in this order at each place; `_SKIP` between.
_SKIP = re.compile(r"(?:[\s,;()\[\]]|(?:og|samt)" + _END + ")*", re.I)
_AFTER: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.I | re.X))
    for kind, pattern in (
        ("id", r"lov-(?P<id>\d{4}-\d{2}-\d{2}-\d+)"),
        (
            "date",
            rf"(?:lov(?:en|a)?\s+)?(?:av\s+)?(?P<day>\d{{1,2}})\.?\s*(?P<month>[a-zæøå]+)\.?\s+"
            rf"(?P<year>{_YEAR})\s*nr\.?\s*(?P<nr>\d+)" + _END,
        ),
        ("year", rf"{_IN}(?:lov(?:en|a)?\s+)?(?:(?:av|fra)\s+)?(?P<year>{_YEAR}){_LAW_WORD}"),
        (
            "old",
            rf"{_IN}(?:den\s+)?(?:gml|gamle|gammel|tidligere|opphevede?|opphevet)(?:\.|{_END})"
            + _LAW_WORD,
        ),
        ("new", rf"nye?{_END}{_LAW_WORD}"),
        ("harmless", rf"{_ORDINAL}(?:\s*(?:,|og)\s*{_ORDINAL})*\s+(?:ledd|punktum|pkt\.?){_END}"),
        (
            "harmless",
            r"(?:bokstav|bokst\.|litra|lit\.)\s*[a-zæøå](?:\s*(?:,|og)\s*[a-zæøå])*" + _END,
        ),
        ("jf", r"(?:jf|jfr|jmf|jamfør)(?:\.|" + _END + ")"),
        ("sections", rf"§+\s*(?P<sections>{_SECTIONS})"),
        ("name", r"[a-zæøå]+(?:\s+[a-zæøå]+){0,3}"),
    )
)


@dataclass(frozen=True, slots=True)
class LawReference:
    """A law reference read: `law` is the code of the version cited ('strl', 'strl1902', or
    'toll1966' for a version the tables do not know), `family` the law's code whatever the
    version ('strl'), `section` the first section cited, as in the law ('266a'), `year` the
    year named, if any; `sections` every section cited as an offence ('229', '231'), and
    `unclear` the text the reader did not understand, as written ('(se vedlegg)')."""

    law: str
    family: str
    section: str
    # The text named the version: a year, a date, 'gml.'/'ny', or a name only one has.
    versioned: bool
    year: int | None = None
    # The version is one the reference tables know (a year they do not know is not).
    known: bool = True
    sections: tuple[str, ...] = field(default=())
    unclear: str | None = None

    @property
    def code(self) -> str:
        """The canonical offence code of the first section: 'strl-321', 'strl1902-231'."""
        return f"{self.law}-{self.section}"

    @property
    def clear(self) -> bool:
        """One section, and nothing the reader did not understand."""
        return self.unclear is None and len(self.sections) <= 1

    def written_short(self) -> str:
        """A short form that reads back the same (version named or not); only for a
        reference that is `clear`."""
        return self.code if self.versioned else f"{self.law} § {self.section}"


@dataclass(slots=True)
class _Reading:
    """What the text says, gathered from its parts."""

    family: str
    claims: list[str] = field(default_factory=list)  # the version codes the text names
    sections: list[str] = field(default_factory=list)
    unclear: str | None = None
    unreadable: bool = False


def read(text: str, ref: Reference) -> LawReference | None:
    """The law reference in `text`, or None when no known law and section can be read (or
    the text names two versions, or a date and number that are no version of the law)."""
    shown = visible_text(text)
    first = _SECTION_FIRST.match(shown)
    if first is not None:
        shown = f"{first.group('law')} § {first.group('section')}"
    head = _HEAD.match(shown)
    if head is None:
        return None
    reading = _head(head, ref)
    if reading is None:
        return None
    _after(shown, head.end(), reading, ref)
    claims = list(dict.fromkeys(reading.claims))
    if reading.unreadable or len(claims) > 1:
        return None
    sections = tuple(dict.fromkeys(reading.sections))
    now = ref.in_force(reading.family)
    code = claims[0] if claims else now.code if now else reading.family
    version = ref.law_versions.get(code)
    year = version.year if version else int(code[len(reading.family) :])
    return LawReference(
        law=code,
        family=reading.family,
        section=sections[0],
        versioned=bool(claims),
        year=year if claims else None,
        known=version is not None,
        sections=sections,
        unclear=reading.unclear,
    )


def _head(match: re.Match[str], ref: Reference) -> _Reading | None:
    name = name_key(match.group("name"))
    law_id = _lovdata_id(match.group("id"), match)
    by_id = _by_id(law_id, ref)
    if law_id is not None and by_id is None:
        return None
    named = ref.law_aliases.get(name) or (by_id if by_id and name == "lov" else None)
    version = ref.law_versions.get(named) if named else None
    if version is None:
        return None
    reading = _Reading(version.law, sections=_split_sections(match.group("sections")))
    if not version.in_force:
        reading.claims.append(version.code)  # a name only a repealed version has
    if by_id is not None:
        _claim_version(reading, by_id, ref)
    year = match.group("year1") or (match.group("year") if law_id is None else None)
    if year is not None:
        reading.claims.append(_by_year(version.law, int(year), ref))
    if match.group("old") or match.group("old2"):
        _claim_state(reading, in_force=False, ref=ref)
    if match.group("new") or match.group("new2"):
        _claim_state(reading, in_force=True, ref=ref)
    return reading


def _after(shown: str, at: int, reading: _Reading, ref: Reference) -> None:
    """Reads what follows the sections into `reading`; stops at the first part not
    understood and keeps the rest, as written, as `unclear`."""
    charged = True  # sections after 'jf.' are cited with the offence, not offences
    jf_at: int | None = None  # where a 'jf.' just read began: quoted with what follows it
    while True:
        start = at
        at = _SKIP.match(shown, at).end()  # type: ignore[union-attr]  # matches ''
        if at >= len(shown):
            return
        for kind, pattern in _AFTER:
            part = pattern.match(shown, at)
            end = _take(kind, part, reading, ref, charged) if part else None
            if end is not None:
                charged = charged and kind != "jf"
                jf_at = start if kind == "jf" else None
                at = end
                break
        else:
            reading.unclear = shown[start if jf_at is None else jf_at :].strip(" ,;")
            return


def _take(
    kind: str, part: re.Match[str], reading: _Reading, ref: Reference, charged: bool
) -> int | None:
    """Records one part and says where it ends; None when it does not fit here after all."""
    if kind in ("id", "date"):
        version = _by_id(_lovdata_id(part.group("id") if kind == "id" else None, part), ref)
        if version is None:
            reading.unreadable = True
        else:
            _claim_version(reading, version, ref)
    elif kind == "year":
        reading.claims.append(_by_year(reading.family, int(part.group("year")), ref))
    elif kind in ("old", "new"):
        _claim_state(reading, in_force=kind == "new", ref=ref)
    elif kind == "sections" and charged:
        reading.sections += _split_sections(part.group("sections"))
    elif kind == "name":
        return _law_named(part, reading, ref)
    return part.end()


def _law_named(part: re.Match[str], reading: _Reading, ref: Reference) -> int | None:
    """Another mention of the same law ('jf. straffeloven av 1902'): the longest run of
    words that is one of its names. Any other law is not understood here."""
    words = list(re.finditer(r"[a-zæøå]+", part.group(), re.I))
    for count in range(len(words), 0, -1):
        named = ref.law_aliases.get(name_key(part.group()[: words[count - 1].end()]))
        version = ref.law_versions.get(named) if named else None
        if version is not None and version.law == reading.family:
            if not version.in_force:
                reading.claims.append(version.code)
            end = part.start() + words[count - 1].end()
            # 'strl.': the abbreviation's full stop belongs to it.
            return end + 1 if part.string[end : end + 1] == "." else end
    return None


def _split_sections(text: str) -> list[str]:
    if text.isdigit():  # one plain section: the common case
        return [text]
    return ["".join(s.split()).lower() for s in _ONE_SECTION.findall(text.replace("og", ","))]


def _lovdata_id(given: str | None, match: re.Match[str]) -> str | None:
    if given:
        return given
    day, month, nr = match.group("day"), match.group("month"), match.group("nr")
    if day is None or nr is None:
        return None
    number = _MONTHS.get(month.lower().rstrip("."))
    if number is None:
        return None
    return f"{match.group('year')}-{number:02d}-{int(day):02d}-{nr}"


def _by_id(law_id: str | None, ref: Reference) -> str | None:
    if law_id is None:
        return None
    return next((v.code for v in ref.law_versions.values() if v.lovdata_id == law_id), None)


def _claim_version(reading: _Reading, code: str, ref: Reference) -> None:
    # The date and number name a law exactly; it must be a version of the law named.
    if ref.law_versions[code].law != reading.family:
        reading.unreadable = True
    else:
        reading.claims.append(code)


def _claim_state(reading: _Reading, *, in_force: bool, ref: Reference) -> None:
    """'gml.'/'opphevet' or 'ny': the one version of the law that is (not) in force."""
    wanted = [
        v.code
        for v in ref.law_versions.values()
        if v.law == reading.family and v.in_force == in_force
    ]
    if len(wanted) != 1:
        reading.unreadable = True
    else:
        reading.claims.append(wanted[0])


def _by_year(family: str, year: int, ref: Reference) -> str:
    """The version of that year; one the tables do not know is kept recognisable
    ('toll1966'), never read as today's law."""
    found = next(
        (v.code for v in ref.law_versions.values() if v.law == family and v.year == year), None
    )
    return found or f"{family}{year}"
