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
from services.common.identity import IdentityError, age_on, classify, valid_orgnr
from services.intake import lawrefs, municipality
from services.intake.findings import Findings, local
from services.intake.offences import standardise_offence
from services.intake.text import normalise_account, normalise_text

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
    → 'strl1902-231' (the repealed code, not converted here); None when unreadable."""
    found = lawrefs.read(text, reference)
    return found.code if found else None


def _national_id(
    person: Person, path: str, today: dt.date, options: Options, found: Findings
) -> tuple[str | None, IdKind | None, dt.date | None]:
    if person.national_id is None:
        return None, None, None
    try:
        id_ = classify(person.national_id, today=today, allow_2032=options.accept_2032_checksums)
    except IdentityError as exc:
        found.issue(exc.code, f"{path}.national_id", str(exc))
        return normalise_text(person.national_id).replace(" ", ""), None, None
    if id_.kind is IdKind.SYNTHETIC and not options.accept_synthetic_ids:
        found.issue("national_id.synthetic", f"{path}.national_id", "a synthetic test number")
    return id_.number, id_.kind, id_.birth_date


def _phone(value: str | None, path: str, options: Options, found: Findings) -> str | None:
    if value is None:
        return None
    try:
        parsed = phonenumbers.parse(value, options.phone_region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        found.issue("phone.invalid", f"{path}.phone", "not a valid phone number")
        return normalise_text(value)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _person(
    person: Person, path: str, incident_day: dt.date, options: Options, found: Findings
) -> Person:
    number, kind, id_birth = _national_id(person, path, incident_day, options, found)
    birth = person.birth_date or id_birth
    if id_birth is not None and birth != id_birth:
        # The sender's date is kept as sent (so standardising again finds the same issue);
        # the age comes from the identity number, the better source.
        found.issue(
            "person.birth_date_mismatch", f"{path}.birth_date", "differs from the national id"
        )
    arrested = None
    if person.arrested_at is not None:
        arrested = _instant(readings(person.arrested_at), f"{path}.arrested_at", found)
        if person.role is not Role.SUSPECT:
            found.issue(
                "person.arrest_not_suspect", f"{path}.arrested_at", "only suspects are arrested"
            )
    born = id_birth or birth
    age = age_on(born, incident_day) if born is not None and born <= incident_day else None
    if born is not None and born > incident_day:
        found.issue("person.born_after_incident", f"{path}.birth_date", "born after the incident")
    if age is not None and age > MAX_AGE:
        # A date typed wrong, not a person: no age rather than a report refused.
        found.issue(
            "person.age_implausible",
            f"{path}.birth_date",
            f"born more than {MAX_AGE} years before the incident",
        )
        age = None
    if arrested is not None and age is None:
        # The custody deadline (strpl. § 183) is shorter under 18: someone must find out.
        found.issue(
            "person.age_unknown",
            path,
            "arrested, and the age at the incident cannot be derived (no valid national id, "
            "no birth date): the custody deadline depends on it (strpl. § 183)",
        )
    return Person(
        role=person.role,
        national_id=number,
        birth_date=birth,
        name=normalise_text(person.name) if person.name else None,
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
    name = normalise_text(incident.municipality_name) if incident.municipality_name else None
    return Incident(
        occurred_from=first,
        occurred_to=last,
        municipality=municipality.resolve(incident.municipality, name, ref, found),
        municipality_name=name,
        address=normalise_text(incident.address) if incident.address else None,
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
