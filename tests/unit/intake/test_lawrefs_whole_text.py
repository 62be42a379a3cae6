"""A law reference is read whole: a version or a second section after the section counts, and
text the reader does not understand is never a silent reading of today's law."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.report import Report
from services.common.standardise import offence_code, standardise
from services.intake.adapters import ADAPTERS
from services.intake.service import from_source

REF = reference.load()
RECEIVED = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples" / "sources"
IN_2020 = "2020-06-01T12:00:00+02:00"
IN_2014 = "2014-06-01T12:00:00+02:00"  # before straffeloven 2005 came into force (1.10.2015)

# Straffeloven 1902 § 231 (grov legemsbeskadigelse) is straffeloven 2005 § 274 (grov
# kroppsskade), as checked on Lovdata (penal_code_1902.csv); 2005 § 231 is a drug offence.
VERSION_AFTER_THE_SECTION = [
    # The new user's texts, each read as strl-231 (2005) with nothing flagged.
    "straffeloven § 231 av 1902",
    "strl. § 231 (1902-loven)",
    "straffeloven § 231, 1902",
    "straffeloven § 231 fra 1902",
    "straffeloven § 231 (lov av 1902)",
    "straffeloven § 231 (gammel lov)",
    "straffeloven § 231 (opphevet)",
    "straffeloven § 231 gml.",
    "straffeloven § 231 jf. straffeloven av 1902",
    "straffeloven § 231 (lov 22. mai 1902 nr. 10)",
    "strl § 231 1902",
    # Siblings.
    "STRAFFELOVEN § 231 AV 1902",
    "strl. § 231 (1902-lova)",
    "straffeloven § 231 i den gamle loven",
    "straffeloven § 231 etter 1902-loven",
    "straffeloven § 231 (LOV-1902-05-22-10)",
    "straffeloven § 231 første ledd (1902)",
    "straffeloven § 231 (den gamle)",
    "strl § 231 jf. almindelig borgerlig straffelov",
    "straffeloven § 231 (opphevede lov)",
    "straffeloven (1902) § 231 (grov legemsbeskadigelse)",  # the 1902 section's own title
]


def canonical(code: str, occurred: str = IN_2020) -> Report:
    raw = msgspec.convert(
        {
            "source": "s",
            "external_id": "x",
            "reported_at": "2026-11-25T10:15:00+01:00",
            "incident": {"occurred_from": occurred, "description": "d", "municipality": "0301"},
            "offences": [{"code": code}],
        },
        Report,
    )
    return standardise(raw, REF, RECEIVED)


def issues(report: Report) -> set[tuple[str, str]]:
    """The offences' quality issues."""
    return {(q.code, q.path) for q in report.quality_issues if q.path.startswith("$.offences")}


@pytest.mark.parametrize("occurred", [IN_2020, IN_2014])
@pytest.mark.parametrize("text", VERSION_AFTER_THE_SECTION)
def test_a_version_after_the_section_is_read(text: str, occurred: str) -> None:
    out = canonical(text, occurred)
    assert [o.code for o in out.offences] == ["strl-274"]
    assert [(n.code, n.path) for n in out.notes] == [("offence.converted", "$.offences[0].code")]
    assert out.quality_issues == []


@pytest.mark.parametrize(
    "text",
    [
        "straffeloven § 274 av 2005",
        "straffeloven § 274 (lov 20. mai 2005 nr. 28)",
        "straffeloven § 274 (ny lov)",
        "strl § 274 2005",
        "straffeloven § 274 (2005-loven)",
    ],
)
def test_the_2005_code_named_after_the_section_is_no_unclear_version(text: str) -> None:
    out = canonical(text, IN_2014)
    assert [o.code for o in out.offences] == ["strl-274"]
    assert (out.quality_issues, out.notes) == ([], [])


@pytest.mark.parametrize(
    ("text", "sections"),
    [
        ("straffeloven (1902) §§ 229 og 231", {"§ 229 as strl1902-229 (strl-273", "§ 231"}),
        ("straffeloven § 229 og § 231 (1902)", {"§ 229 as strl1902-229 (strl-273", "§ 231"}),
        ("straffeloven §§ 321, 322", {"§ 321 as strl-321", "§ 322 as strl-322"}),
        ("strl § 321 første ledd og § 322", {"§ 321 as strl-321", "§ 322 as strl-322"}),
    ],
)
def test_several_sections_are_never_one_silently(text: str, sections: set[str]) -> None:
    out = canonical(text)
    assert [o.code for o in out.offences] == [text]  # kept as written, for a person
    assert issues(out) == {("offence.several_sections", "$.offences[0].code")}
    message = out.quality_issues[0].message
    assert f"'{text}'" in message
    assert all(s in message for s in sections), message
    if "1902" in text:  # 1902 § 231 is 2005 § 274 (Lovdata)
        assert "strl1902-231 (strl-274 in the law in force)" in message


@pytest.mark.parametrize(
    ("text", "unclear"),
    [
        ("straffeloven § 231 (Se Vedlegg)", "(Se Vedlegg)"),
        ("straffeloven § 231 jf. legemiddelloven § 24", "jf. legemiddelloven § 24"),
        ("straffeloven § 231 nr. 2", "nr. 2"),
        ("vegtrafikkloven § 22 osv", "osv"),
        ("straffeloven (1902) § 231 m.m.", "m.m."),
        ("tolloven § 16-1 eller § 16-2?", "eller § 16-2?"),
        # A title that is not the section's: 2005 § 231 is a drug offence, 1902 § 231 was
        # grov legemsbeskadigelse and 2005 § 274 is grov kroppsskade.
        ("straffeloven § 231 (grov kroppsskade)", "(grov kroppsskade)"),
    ],
)
def test_text_after_the_section_not_understood_is_a_quality_issue(text: str, unclear: str) -> None:
    for occurred in (IN_2020, IN_2014):
        out = canonical(text, occurred)
        assert [o.code for o in out.offences] == [text]  # never strl-231 of today's law
        assert issues(out) == {("offence.unclear_reference", "$.offences[0].code")}
        assert f"'{unclear}'" in out.quality_issues[0].message  # quoted as written
        assert out.notes == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("vegtrafikkloven § 22 jf. § 31", "vtrl-22"),
        ("vegtrafikkloven § 22 første ledd, jf. § 31 første ledd", "vtrl-22"),
        ("vtrl § 22 jf. vegtrafikkloven § 31", "vtrl-22"),
        ("straffeloven § 321 første ledd bokstav a", "strl-321"),
        ("straffeloven § 321 annet og tredje ledd", "strl-321"),
        ("straffeloven § 321 2. ledd 1. punktum", "strl-321"),
        ("straffeloven § 322 bokstav a og b", "strl-322"),
        ("straffeloven § 321 jfr. § 322", "strl-321"),
        # A title in brackets that names the offence read (offences.csv, offence_labels.csv).
        ("straffeloven § 321 (tyveri)", "strl-321"),
        ("straffeloven § 263 (Trusler)", "strl-263"),
    ],
)
def test_the_harmless_forms_after_the_section_change_nothing(text: str, code: str) -> None:
    out = canonical(text)
    assert [o.code for o in out.offences] == [code]
    assert (out.quality_issues, out.notes) == ([], [])
    assert offence_code(text, REF) == code


@pytest.mark.parametrize(
    "text",
    [
        "straffeloven (1902) § 231 (2005)",
        "straffeloven § 231 av 1902 (ny lov)",
        "almindelig borgerlig straffelov § 231 av 2005",
        "straffeloven § 231 (lov 20. mai 2005 nr. 28) gml.",
    ],
)
def test_two_versions_named_are_unreadable_not_one_chosen(text: str) -> None:
    out = canonical(text)
    assert [o.code for o in out.offences] == [text]
    assert issues(out) == {("offence.unreadable_code", "$.offences[0].code")}


def _through(format_name: str, change: dict[str, Any]) -> Report:
    body: dict[str, Any] = json.loads((EXAMPLES / f"{format_name}.json").read_text("utf-8"))
    body |= change
    adapter = ADAPTERS[format_name]
    report = from_source(adapter, msgspec.convert(body, adapter.struct), REF)
    return standardise(report, REF, RECEIVED)


@pytest.mark.parametrize(
    ("format_name", "field"),
    [
        ("patrol", lambda t: {"codes": [t]}),
        ("agency", lambda t: {"forhold": [{"lovhenvisning": t}]}),
    ],
)
def test_patrol_and_agency_references_are_read_whole_too(format_name: str, field: Any) -> None:
    assert [
        o.code for o in _through(format_name, field("straffeloven § 231 av 1902")).offences
    ] == ["strl-274"]
    several = _through(format_name, field("strl §§ 229 og 231 (1902)"))
    assert issues(several) == {("offence.several_sections", "$.offences[0].code")}
    unclear = _through(format_name, field("strl § 231 (se vedlegg)"))
    assert issues(unclear) == {("offence.unclear_reference", "$.offences[0].code")}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # Longer than an offence code holds: shortened to the code it reads as.
        (
            "Almindelig borgerlig Straffelov § 231 første ledd, jf. § 232, "
            "jf. straffeloven av 1902",
            "strl-274",
        ),
    ],
)
def test_a_long_agency_reference_read_clearly_is_shortened(text: str, code: str) -> None:
    assert len(text) > 64
    out = _through("agency", {"forhold": [{"lovhenvisning": text}]})
    assert [o.code for o in out.offences] == [code]


@pytest.mark.parametrize(
    "text",
    [
        "straffeloven § 231 første ledd, jf. § 232 (se også saksdokumentene vedlagt her)",
        "straffeloven §§ 229 og 231 første ledd, jf. § 232, i straffeloven av 1902 (gml.)",
    ],
)
def test_a_long_agency_reference_not_read_clearly_goes_to_a_person(text: str) -> None:
    assert len(text) > 64
    out = _through("agency", {"forhold": [{"lovhenvisning": text}]})
    (offence,) = out.offences
    assert offence.code is not None
    assert offence.code.endswith("…")  # visibly shortened, never a code it does not say
    assert {q.code for q in out.quality_issues} & {
        "offence.unclear_reference",
        "offence.several_sections",
        "offence.unreadable_code",
    }


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("straffeloven § 231 av 1902", "strl1902-231"),
        ("strl § 274 (2005)", "strl-274"),
        ("straffeloven §§ 229 og 231", None),
        ("straffeloven § 231 (se vedlegg)", None),
    ],
)
def test_offence_code_gives_one_clear_offence_or_none(text: str, code: str | None) -> None:
    assert offence_code(text, REF) == code
