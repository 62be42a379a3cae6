"""Standardisation: canonical report in, canonical report out; a pure function, no I/O.

Structural errors never reach this point (decoding rejects them). What is found here is
soft: the report is kept, the problem recorded as a `QualityIssue`, and the router sends
the report to manual triage.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

import msgspec
import phonenumbers

from schemas.reference import Reference

# The contract's own reading of a time: naive means Europe/Oslo.
from schemas.report import (
    OSLO,
    IdKind,
    Incident,
    Offence,
    Person,
    QualityIssue,
    Report,
    Role,
    as_utc,
)
from services.common.identity import IdentityError, age_on, classify, valid_orgnr

_SPACES = re.compile(r"\s+")
_LAW_AND_SECTION = re.compile(
    r"^\s*(?P<law>[a-zæøå]+)\.?\s*(?:\(\d{4}\))?\s*[-§.\s]*\s*(?P<section>\d+(?:-\d+)?\s?[a-z]?)\b"
)
# How far a report's own times may lie after the moment the intake received it.
_CLOCK_SKEW = dt.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Options:
    """What a deployment accepts."""

    accept_synthetic_ids: bool = False
    accept_2032_checksums: bool = True
    phone_region: str = "NO"


def normalise_text(value: str) -> str:
    """NFC, trimmed, inner runs of whitespace made one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip()


def normalise_account(value: str) -> str:
    """A free-text account: NFC, trimmed, line endings unified, other spacing kept."""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()


def offence_code(text: str, reference: Reference) -> str | None:
    """'strl. 321', 'straffeloven § 321', 'STRL-321' → 'strl-321'; None when unreadable."""
    match = _LAW_AND_SECTION.match(text.casefold())
    if match is None:
        return None
    law = reference.law_aliases.get(match.group("law"))
    if law is None:
        return None
    return f"{law}-{match.group('section').replace(' ', '')}"


class _Issues:
    def __init__(self) -> None:
        self.items: list[QualityIssue] = []

    def add(self, code: str, path: str, message: str) -> None:
        self.items.append(QualityIssue(code=code, path=path, message=message))


def _offence(offence: Offence, path: str, ref: Reference, issues: _Issues) -> Offence:
    label = normalise_text(offence.label) if offence.label else None
    code = None
    if offence.code is not None:
        code = offence_code(offence.code, ref)
        if code is None:
            issues.add("offence.unreadable_code", f"{path}.code", "offence code not understood")
            code = normalise_text(offence.code)
        elif ref.offence(code) is None:
            issues.add("offence.unknown_code", f"{path}.code", f"{code} is not in the catalogue")
    elif label is not None:
        code = ref.offence_labels.get(label.casefold())
        if code is None:
            issues.add("offence.unknown_label", f"{path}.label", "no offence code for this label")
    return Offence(code=code, label=label)


def _national_id(
    person: Person, path: str, today: dt.date, options: Options, issues: _Issues
) -> tuple[str | None, IdKind | None, dt.date | None]:
    if person.national_id is None:
        return None, None, None
    try:
        found = classify(person.national_id, today=today, allow_2032=options.accept_2032_checksums)
    except IdentityError as exc:
        issues.add(exc.code, f"{path}.national_id", str(exc))
        return normalise_text(person.national_id).replace(" ", ""), None, None
    if found.kind is IdKind.SYNTHETIC and not options.accept_synthetic_ids:
        issues.add("national_id.synthetic", f"{path}.national_id", "a synthetic test number")
    return found.number, found.kind, found.birth_date


def _phone(value: str | None, path: str, options: Options, issues: _Issues) -> str | None:
    if value is None:
        return None
    try:
        parsed = phonenumbers.parse(value, options.phone_region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        issues.add("phone.invalid", f"{path}.phone", "not a valid phone number")
        return normalise_text(value)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _person(
    person: Person, path: str, incident_day: dt.date, options: Options, issues: _Issues
) -> Person:
    number, kind, id_birth = _national_id(person, path, incident_day, options, issues)
    birth = person.birth_date or id_birth
    if id_birth is not None and birth != id_birth:
        # The sender's date is kept as sent (so standardising again finds the same issue);
        # the age comes from the identity number, the better source.
        issues.add(
            "person.birth_date_mismatch", f"{path}.birth_date", "differs from the national id"
        )
    arrested = as_utc(person.arrested_at) if person.arrested_at else None
    if arrested is not None and person.role is not Role.SUSPECT:
        issues.add("person.arrest_not_suspect", f"{path}.arrested_at", "only suspects are arrested")
    born = id_birth or birth
    age = age_on(born, incident_day) if born is not None and born <= incident_day else None
    if born is not None and born > incident_day:
        issues.add("person.born_after_incident", f"{path}.birth_date", "born after the incident")
    return Person(
        role=person.role,
        national_id=number,
        birth_date=birth,
        name=normalise_text(person.name) if person.name else None,
        phone=_phone(person.phone, path, options, issues),
        arrested_at=arrested,
        id_kind=kind,
        age_at_incident=age,
    )


def _incident(incident: Incident, ref: Reference, issues: _Issues) -> Incident:
    if incident.municipality is not None and ref.district_of(incident.municipality) is None:
        issues.add(
            "municipality.unknown",
            "$.incident.municipality",
            "not a municipality in the 2024 numbering",
        )
    return Incident(
        occurred_from=as_utc(incident.occurred_from),
        occurred_to=as_utc(incident.occurred_to) if incident.occurred_to else None,
        municipality=incident.municipality,
        address=normalise_text(incident.address) if incident.address else None,
        postal_code=incident.postal_code,
        description=normalise_account(incident.description),
    )


def _check_times(report: Report, received_at: dt.datetime, issues: _Issues) -> None:
    if report.reported_at > received_at + _CLOCK_SKEW:
        issues.add("time.future", "$.reported_at", "after the moment the report was received")
    if report.incident.occurred_from > report.reported_at + _CLOCK_SKEW:
        issues.add(
            "time.incident_after_report",
            "$.incident.occurred_from",
            "the incident starts after it was reported",
        )


def standardise(
    report: Report, reference: Reference, received_at: dt.datetime, options: Options = Options()
) -> Report:
    """The standardised form of a structurally valid report, with its quality issues."""
    issues = _Issues()
    incident = _incident(report.incident, reference, issues)
    incident_day = incident.occurred_from.astimezone(OSLO).date()
    persons = [
        _person(p, f"$.persons[{i}]", incident_day, options, issues)
        for i, p in enumerate(report.persons)
    ]
    offences = [
        _offence(o, f"$.offences[{i}]", reference, issues) for i, o in enumerate(report.offences)
    ]
    org = report.reporter_org
    if org is not None:
        valid = valid_orgnr(org)
        if valid is None:
            issues.add("reporter_org.invalid", "$.reporter_org", "not a valid organisasjonsnummer")
        org = valid or org
    result = msgspec.structs.replace(
        report,
        reported_at=as_utc(report.reported_at),
        incident=incident,
        offences=offences,
        persons=persons,
        reporter_org=org,
        quality_issues=[],
    )
    _check_times(result, received_at, issues)
    return msgspec.structs.replace(result, quality_issues=issues.items)
