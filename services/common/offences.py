"""What was done: an offence's code or label made a catalogue code, or a finding why not (pure)."""

from __future__ import annotations

import datetime as dt

from schemas.localtime import OSLO
from schemas.reference import Reference, name_key
from schemas.report import Offence
from services.common import lawrefs
from services.common.findings import Findings
from services.common.text import normalise_text, quoted


def standardise_offence(
    offence: Offence, path: str, incident_end: dt.datetime, ref: Reference, found: Findings
) -> Offence:
    """The offence with a canonical code where one can be found.

    A code is read as a law reference (`lawrefs.read`), the whole text: one that cites several
    sections is `offence.several_sections`, one with text after the section that the reader
    does not understand `offence.unclear_reference`; both keep the code as written. A
    reference to a repealed law is
    converted through the conversion table where the row is checked and has one counterpart
    (note `offence.converted`); otherwise it keeps the repealed law's code ('strl1902-257')
    with `offence.repealed_law`, never today's section of the same number. A straffeloven
    reference without a version, for an incident that ended before the code in force came
    into force (1 October 2015), is `offence.law_version_unclear`. A label is looked up
    among the labels and the citizen form's categories (`offence.unknown_label`).
    """
    label = (normalise_text(offence.label) or None) if offence.label else None
    code: str | None
    if offence.code is not None:
        # Nothing visible in it: kept as sent, so the report keeps its offence.
        written = normalise_text(offence.code) or offence.code
        reference = lawrefs.read(offence.code, ref)
        if reference is None:
            found.issue(
                "offence.unreadable_code",
                f"{path}.code",
                f"{quoted(written)} is not a law reference the intake can read",
            )
            return Offence(code=written, label=label)
        if not reference.clear and not titled(reference, ref):
            _not_clear(reference, written, f"{path}.code", ref, found)
            return Offence(code=written, label=label)
        code = _code(reference, written, f"{path}.code", incident_end, ref, found)
        return Offence(code=code, label=label)
    if label is None:
        found.issue("offence.unknown_label", f"{path}.label", "the label has no visible character")
        return Offence(code=None, label=offence.label)
    code = ref.offence_labels.get(name_key(label))
    if code is None:
        found.issue(
            "offence.unknown_label", f"{path}.label", f"no offence code for {quoted(label)}"
        )
    return Offence(code=code, label=label)


def titled(reference: lawrefs.LawReference, ref: Reference) -> bool:
    """'straffeloven § 321 (tyveri)', 'straffeloven (1902) § 231 (grov legemsbeskadigelse)':
    a title in brackets after the one section, naming the offence read (its catalogue title,
    a label of it, or the repealed section's title), changes nothing. Another title ('§ 231
    (grov kroppsskade)': 2005 § 231 is a drug offence) stays unclear."""
    text = reference.unclear or ""
    if len(reference.sections) != 1 or not (text.startswith("(") and text.endswith(")")):
        return False
    key = name_key(text[1:-1])
    entry = ref.offence(reference.code)
    conversion = ref.conversions.get(reference.law, {}).get(reference.section)
    return (
        (entry is not None and key == name_key(entry.title_nb))
        or ref.offence_labels.get(key) == reference.code
        or (conversion is not None and key == name_key(conversion.title))
    )


def _not_clear(
    reference: lawrefs.LawReference, written: str, path: str, ref: Reference, found: Findings
) -> None:
    """A reference that cites several sections, or has text the reader does not understand:
    kept as written, with what it reads as, for a person to decide (never one section
    silently, never a guess)."""
    sections = reference.sections
    if len(sections) > 1:
        readings = ", ".join(f"§ {s} as {_reads_as(reference, s, ref)}" for s in sections)
        found.issue(
            "offence.several_sections",
            path,
            f"{quoted(written)} cites {len(reference.sections)} sections: {readings}; an offence "
            "holds one: a person must record each as an offence of its own",
        )
    if reference.unclear is not None:
        found.issue(
            "offence.unclear_reference",
            path,
            f"{quoted(written)} reads as "
            f"{' and '.join(_reads_as(reference, s, ref) for s in sections)}"
            f", but {quoted(reference.unclear)} after the section is "
            "not understood (it may name another version or section): a person must check it",
        )


def _reads_as(reference: lawrefs.LawReference, section: str, ref: Reference) -> str:
    """'strl1902-231' → 'strl-274' where a checked conversion exists; else the code read."""
    code = f"{reference.law}-{section}"
    conversion = ref.conversions.get(reference.law, {}).get(section)
    if conversion is not None and conversion.target is not None:
        return f"{code} ({conversion.target} in the law in force)"
    return code


def _code(
    reference: lawrefs.LawReference,
    written: str,
    path: str,
    incident_end: dt.datetime,
    ref: Reference,
    found: Findings,
) -> str:
    code = reference.code
    version = ref.law_versions.get(reference.law)
    if version is None or not version.in_force:
        return _repealed(reference, written, path, ref, found)
    came = version.in_force_from
    if (
        not reference.versioned
        and written != code
        and came is not None
        and incident_end.astimezone(OSLO).date() < came
    ):
        found.issue(
            "offence.law_version_unclear",
            path,
            f"{quoted(written)} names no version, and the incident ended before {came:%d.%m.%Y}, "
            f"when the law of {version.year} came into force: it may cite the law then in force",
        )
    if ref.offence(code) is None:
        found.issue(
            "offence.unknown_code",
            path,
            f"{quoted(written)} ({quoted(code, quote='')}) is not in the catalogue",
        )
    return code


def _repealed(
    reference: lawrefs.LawReference, written: str, path: str, ref: Reference, found: Findings
) -> str:
    now = ref.in_force(reference.family)
    since = f" by the law of {now.year}" if now else ""
    conversion = ref.conversions.get(reference.law, {}).get(reference.section)
    target = conversion.target if conversion else None
    if conversion is not None and target is not None:
        entry = ref.offence(target)
        title = entry.title_nb if entry else target
        found.note(
            "offence.converted",
            path,
            f"{quoted(written)} cites § {reference.section} ({conversion.title}) "
            "of a repealed law; "
            f"read as {target} ({title}), replaced{since} (source: {conversion.source})",
        )
        return target
    if not reference.known:
        known = f"the version of {reference.year} is not one the intake knows"
    elif conversion is not None:
        known = (
            f"§ {reference.section} ({conversion.title}) corresponds to "
            f"{' or '.join(conversion.codes)} ({conversion.verified}, not converted)"
        )
    else:
        known = f"no conversion is known for § {reference.section}"
    found.issue(
        "offence.repealed_law",
        path,
        f"{quoted(written)} cites a repealed law, replaced{since}: {known}; "
        "a person must choose the "
        "offence in the law in force",
    )
    return reference.code
