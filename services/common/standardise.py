"""Standardisation: canonical report in, canonical report out; a pure function, no I/O.

Structural errors never reach this point (decoding rejects them). What is found here is
soft: the report is kept, a problem recorded as a `QualityIssue` (the router sends the
report to manual triage) and a change a person may want to know of as a `Note`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import msgspec
import phonenumbers

from schemas.localtime import OSLO, Kind, Readings, fits_period, period, readings
from schemas.reference import Reference
from schemas.report import MAX_AGE, IdKind, Incident, Person, Report, Role
from services.common import lawrefs, municipality
from services.common.findings import Findings, local
from services.common.identity import IdentityError, age_on, classify, valid_orgnr
from services.common.offences import standardise_offence, titled
from services.common.text import normalise_account, normalise_text

__all__ = ["Options", "normalise_account", "normalise_text", "offence_code", "standardise"]

# How far a report's own times may lie after the moment the intake received it.
_CLOCK_SKEW = dt.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Options:
    """What a deployment accepts."""

    accept_synthetic_ids: bool = False
    accept_2032_checksums: bool = True
    phone_region: str = "NO"


def offence_code(text: str, reference: Reference) -> str | None:
    """'strl. 321', 'straffeloven § 321', 'STRL-321' → 'strl-321'; 'straffeloven (1902) § 231'
    and 'straffeloven § 231 av 1902' → 'strl1902-231' (the repealed code, not converted here);
    None when unreadable, or not one clear offence (several sections, text not understood)."""
    found = lawrefs.read(text, reference)
    return found.code if found and (found.clear or titled(found, reference)) else None


def _national_id(
    person: Person, path: str, today: dt.date, options: Options, found: Findings
) -> tuple[str | None, IdKind | None, dt.date | None]:
    # Invisible characters (a copy-paste's zero-width space) are no part of a number.
    written = normalise_text(person.national_id) if person.national_id else ""
    if not written:
        return None, None, None
    try:
        id_ = classify(written, today=today, allow_2032=options.accept_2032_checksums)
    except IdentityError as exc:
        found.issue(exc.code, f"{path}.national_id", str(exc))
        return written.replace(" ", ""), None, None
    if id_.kind is IdKind.SYNTHETIC and not options.accept_synthetic_ids:
        found.issue("national_id.synthetic", f"{path}.national_id", "a synthetic test number")
    return id_.number, id_.kind, id_.birth_date


def _phone(value: str | None, path: str, options: Options, found: Findings) -> str | None:
    written = normalise_text(value) if value else ""
    if not written:
        return None
    try:
        parsed = phonenumbers.parse(written, options.phone_region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        found.issue("phone.invalid", f"{path}.phone", "not a valid phone number")
        return written
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _wrong(born: dt.date, incident_day: dt.date) -> str | None:
    """Why a birth date gives no age at the incident, or None when it gives one."""
    if born > incident_day:
        return "after the incident"
    if age_on(born, incident_day) > MAX_AGE:
        return f"more than {MAX_AGE} years before the incident"
    return None


_FROM_ID, _GIVEN = "the national id's birth date", "birth_date as sent"


def _mismatch(ages: dict[str, int], source: str | None) -> str:
    """What the intake did with two birth dates that disagree (`ages`: by the dates that
    give one; `source`: the date used)."""
    said = "differs from the birth date in the national id"
    if source is None:
        return f"{said}; neither gives an age at the incident"
    if len(ages) == 1:
        other = _GIVEN if source == _FROM_ID else _FROM_ID
        return f"{said}; the age is taken from {source}, as {other} gives none"
    other_age = next(age for src, age in ages.items() if src != source)
    return (
        f"{said}; the age is taken from the later date, {source} ({ages[source]} at the "
        f"incident, not {other_age}): the younger age is the stricter reading for every age "
        "rule (custody under 18, strpl. § 249, barnehus)"
    )


def _age(
    person: Person,
    ids: tuple[str | None, IdKind | None, dt.date | None],
    path: str,
    incident_day: dt.date,
    found: Findings,
) -> tuple[int | None, str]:
    """The age at the incident, and what made it unknown ('' when known).

    Where the national id and `birth_date` disagree, the later date gives the age: the
    younger age is the stricter reading for every age rule of the law (custody under 18,
    strpl. § 183; strpl. § 249; barnehus). `birth_date` itself is kept as sent."""
    number, kind, from_id = ids
    given = person.birth_date
    dates = {_FROM_ID: from_id} if from_id else {}
    if given is not None and given != from_id:
        dates[_GIVEN] = given
    ages = {src: age_on(d, incident_day) for src, d in dates.items() if not _wrong(d, incident_day)}
    source = max(ages, key=lambda src: dates[src]) if ages else None
    if len(dates) == 2:
        found.issue("person.birth_date_mismatch", f"{path}.birth_date", _mismatch(ages, source))
    for src, born in dates.items():
        wrong = _wrong(born, incident_day)
        code = "person.born_after_incident" if born > incident_day else "person.age_implausible"
        if wrong:
            found.issue(code, f"{path}.birth_date", f"{src}: born {wrong}")
    if source is not None:
        return ages[source], ""
    if number is None:
        id_part = "no national id"
    elif kind is None:
        id_part = "a national id that is not valid"
    elif from_id is None:
        id_part = "an FH-number, which holds no birth date"
    else:
        id_part = f"a national id that gives a birth date {_wrong(from_id, incident_day)}"
    if given is None or given == from_id:
        return None, f"{id_part}, and no birth date" if given is None else id_part
    return None, f"{id_part}, and a birth date {_wrong(given, incident_day)}"


def _person(
    person: Person, path: str, incident_day: dt.date, options: Options, found: Findings
) -> Person:
    ids = _national_id(person, path, incident_day, options, found)
    arrested = None
    if person.arrested_at is not None:
        arrested = _instant(readings(person.arrested_at), f"{path}.arrested_at", found)
        if person.role is not Role.SUSPECT:
            found.issue(
                "person.arrest_not_suspect", f"{path}.arrested_at", "only suspects are arrested"
            )
    age, unknown = _age(person, ids, path, incident_day, found)
    if arrested is not None and age is None:
        # The custody deadline (strpl. § 183) is shorter under 18: someone must find out.
        found.issue(
            "person.age_unknown",
            path,
            f"arrested, and the age at the incident cannot be derived ({unknown}): the "
            "custody deadline depends on it (strpl. § 183)",
        )
    number, kind, from_id = ids
    return Person(
        role=person.role,
        national_id=number,
        # The sender's date is kept as sent (so standardising again finds the same issue).
        birth_date=person.birth_date or from_id,
        name=(normalise_text(person.name) or None) if person.name else None,
        phone=_phone(person.phone, path, options, found),
        arrested_at=arrested,
        id_kind=kind,
        age_at_incident=age,
    )


def _clock(
    time: Readings, chosen: dt.datetime, path: str, found: Findings, fitting: int = 2
) -> None:
    """Findings for a time around a change of clock; `fitting`: how many of its readings
    the rest of the report (a period) allows."""
    if time.kind is Kind.ORDINARY:
        return
    written = f"{time.written:%d.%m.%Y %H:%M}"
    if time.kind is Kind.NONEXISTENT:
        how = "moved forward by the gap" if chosen == time.chosen else "as the period allows"
        found.issue(
            "time.nonexistent",
            path,
            f"{written} does not exist in Europe/Oslo (the clock went from 02:00 to 03:00): "
            f"read as {local(chosen)}, {how}",
        )
    elif time.kind is Kind.AMBIGUOUS and fitting == 1:
        found.note(
            "time.ambiguous_resolved",
            path,
            f"{written} happened twice in Europe/Oslo; only {local(chosen)} fits the period",
        )
    elif time.kind is Kind.AMBIGUOUS:
        found.issue(
            "time.ambiguous",
            path,
            f"{written} happened twice in Europe/Oslo (the clock went from 03:00 back to "
            f"02:00): the earlier, {local(chosen)}, is taken",
        )


def _instant(time: Readings, path: str, found: Findings) -> dt.datetime:
    _clock(time, time.chosen, path, found)
    return time.chosen


def _incident(incident: Incident, ref: Reference, found: Findings) -> Incident:
    start = readings(incident.occurred_from)
    first, last = start.chosen, None
    if incident.occurred_to is None:
        _clock(start, first, "$.incident.occurred_from", found)
    else:
        end = readings(incident.occurred_to)
        # The contract refuses a period no reading makes, so one is found here.
        first, last = period(start, end) or (start.chosen, end.chosen)
        fits_start = len(fits_period(start, end, is_start=True))
        fits_end = len(fits_period(end, start, is_start=False))
        _clock(start, first, "$.incident.occurred_from", found, fits_start)
        _clock(end, last, "$.incident.occurred_to", found, fits_end)
    name = (
        (normalise_text(incident.municipality_name) or None) if incident.municipality_name else None
    )
    return Incident(
        occurred_from=first,
        occurred_to=last,
        municipality=municipality.resolve(incident.municipality, name, ref, found),
        municipality_name=name,
        address=(normalise_text(incident.address) or None) if incident.address else None,
        postal_code=incident.postal_code,
        description=normalise_account(incident.description),
    )


def _check_times(report: Report, received_at: dt.datetime, found: Findings) -> None:
    # Flagged only when every reading of a local time says so: a time moved forward by
    # the spring gap does not make an incident come after its report.
    reported = readings(report.reported_at)
    if reported.earliest > received_at + _CLOCK_SKEW:
        found.issue("time.future", "$.reported_at", "after the moment the report was received")
    if readings(report.incident.occurred_from).earliest > reported.latest + _CLOCK_SKEW:
        found.issue(
            "time.incident_after_report",
            "$.incident.occurred_from",
            "the incident starts after it was reported",
        )


def standardise(
    report: Report, reference: Reference, received_at: dt.datetime, options: Options = Options()
) -> Report:
    """The standardised form of a structurally valid report, with its quality issues and
    notes (codes listed in the README's "Standardisation" section)."""
    found = Findings()
    reported_at = _instant(readings(report.reported_at), "$.reported_at", found)
    incident = _incident(report.incident, reference, found)
    incident_day = incident.occurred_from.astimezone(OSLO).date()
    incident_end = incident.occurred_to or incident.occurred_from
    persons = [
        _person(p, f"$.persons[{i}]", incident_day, options, found)
        for i, p in enumerate(report.persons)
    ]
    offences = [
        standardise_offence(o, f"$.offences[{i}]", incident_end, reference, found)
        for i, o in enumerate(report.offences)
    ]
    org = report.reporter_org
    if org is not None:
        valid = valid_orgnr(org)
        if valid is None:
            found.issue("reporter_org.invalid", "$.reporter_org", "not a valid organisasjonsnummer")
        org = valid or org
    _check_times(report, received_at, found)
    return msgspec.structs.replace(
        report,
        reported_at=reported_at,
        incident=incident,
        offences=offences,
        persons=persons,
        reporter_org=org,
        quality_issues=found.issues,
        notes=found.notes,
    )
