"""Upstream systems' own report formats, as they send them to `/v1/sources/<format>/reports`.

Each is converted to the canonical `Report` by an adapter in the intake; field mappings
(categories, roles, markers, law references) are data in `services/intake/mappings/`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from msgspec import Meta

from schemas.textrules import (
    ACCOUNT,
    FOUR_DIGITS,
    LINE,
    LOCAL_DATE,
    LOCAL_TIME,
    NO_CONTROLS,
    OPTIONAL_ACCOUNT,
    ORGANISATION_NUMBER,
    PARTY_TYPE,
)

# Texts as the canonical report holds them (schemas.textrules): one line with something
# visible, free text with its line breaks; every field reaches the units, in the report or
# in the raw body, so none holds a control character.
Short = Annotated[str, Meta(min_length=1, max_length=200, pattern=LINE)]
# An optional text: "" (or only white space) is taken as not given, as forms send it.
OptionalShort = Annotated[str, Meta(max_length=200, pattern=NO_CONTROLS)]
Reference = Annotated[str, Meta(min_length=1, max_length=128, pattern=LINE)]
Account = Annotated[str, Meta(min_length=1, max_length=20_000, pattern=ACCOUNT)]
Digits4 = Annotated[str, Meta(pattern=FOUR_DIGITS)]
IdText = Annotated[str, Meta(max_length=20, pattern=NO_CONTROLS)]
PhoneText = Annotated[str, Meta(max_length=40, pattern=NO_CONTROLS)]
AddressText = Annotated[str, Meta(max_length=500, pattern=NO_CONTROLS)]
LocalTime = Annotated[
    str,
    Meta(
        pattern=LOCAL_TIME,
        description="Norwegian local time without offset, 'dd.mm.åååå tt:mm' (Europe/Oslo).",
    ),
]
LocalDate = Annotated[str, Meta(pattern=LOCAL_DATE, description="'dd.mm.åååå'.")]


# --- citizen: the online report form (nettanmeldelse) ------------------------------------


class CitizenPerson(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A person as the form asks for one."""

    fornavn: OptionalShort | None = None
    etternavn: OptionalShort | None = None
    fodselsnummer: IdText | None = None
    fodselsdato: LocalDate | None = None
    telefon: PhoneText | None = None


class CitizenReport(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A citizen's online report: Norwegian field names, local times, a free-text category."""

    referanse: Reference
    innsendt: LocalTime
    kategori: Short
    hendelse_fra: LocalTime
    beskrivelse: Account
    anmelder: CitizenPerson
    hendelse_til: LocalTime | None = None
    kommunenummer: Digits4 | None = None
    kommune: OptionalShort | None = None
    adresse: AddressText | None = None
    postnummer: Digits4 | None = None
    anmelder_er_fornaermet: bool = True
    mistenkte: Annotated[list[CitizenPerson], Meta(max_length=20)] = []
    vitner: Annotated[list[CitizenPerson], Meta(max_length=20)] = []
    hatmotiv: bool = False
    nare_relasjoner: bool = False


# --- patrol: a patrol's on-scene report ---------------------------------------------------


class PatrolScene(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Where the patrol was."""

    kommune: Digits4
    address: AddressText | None = None
    lat: Annotated[float, Meta(ge=-90, le=90)] | None = None
    lon: Annotated[float, Meta(ge=-180, le=180)] | None = None


class PatrolArrest(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """An arrest made on the scene."""

    at: dt.datetime
    by: OptionalShort | None = None


class PatrolPerson(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A person on the scene; `r` is a one-letter role code (F, M, V, A)."""

    r: Annotated[str, Meta(min_length=1, max_length=2, pattern=LINE)]
    fnr: IdText | None = None
    dob: dt.date | None = None
    name: OptionalShort | None = None
    tlf: PhoneText | None = None
    arrest: PatrolArrest | None = None


class PatrolReport(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A patrol's report from the scene: several persons, arrests with their time."""

    unit: Short
    case_ref: Reference
    logged_at: dt.datetime
    scene: PatrolScene
    started: dt.datetime
    codes: Annotated[
        list[Annotated[str, Meta(min_length=1, max_length=64, pattern=LINE)]],
        Meta(min_length=1, max_length=20),
    ]
    narrative: Account
    ended: dt.datetime | None = None
    people: Annotated[list[PatrolPerson], Meta(max_length=50)] = []
    markers: Annotated[
        list[Annotated[str, Meta(max_length=32, pattern=NO_CONTROLS)]], Meta(max_length=20)
    ] = []


# --- agency: a partner agency's report (Tolletaten, NAV, Skatteetaten, ...) ---------------


class AgencySender(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The reporting agency."""

    organisasjonsnummer: Annotated[str, Meta(pattern=ORGANISATION_NUMBER)]
    etat: Short
    saksbehandler: OptionalShort | None = None


class AgencyCount(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One count: a law reference such as 'tolloven § 16-1' or 'straffeloven § 371'."""

    lovhenvisning: Annotated[str, Meta(min_length=1, max_length=120, pattern=LINE)]
    # Free text about the count: its line breaks are kept.
    beskrivelse: Annotated[str, Meta(max_length=2000, pattern=OPTIONAL_ACCOUNT)] | None = None


class AgencyParty(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A party: a person (with fødselsnummer) or an enterprise (with organisasjonsnummer)."""

    rolle: Short
    type: Annotated[str, Meta(pattern=PARTY_TYPE)] = "person"
    fodselsnummer: IdText | None = None
    organisasjonsnummer: Annotated[str, Meta(max_length=11, pattern=NO_CONTROLS)] | None = None
    navn: OptionalShort | None = None


class AgencyPeriod(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """When it happened; agencies often know only the dates."""

    fra: dt.date
    til: dt.date | None = None


class AgencyPlace(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Where it happened."""

    kommunenummer: Digits4 | None = None
    beskrivelse: AddressText | None = None


class AgencyReport(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, rename="camel"):
    """A partner agency's report: its organisasjonsnummer, counts by law reference."""

    meldings_id: Reference
    avsender: AgencySender
    meldingstidspunkt: dt.datetime
    gjerningsperiode: AgencyPeriod
    forhold: Annotated[list[AgencyCount], Meta(min_length=1, max_length=20)]
    sammendrag: Account
    gjerningssted: AgencyPlace | None = None
    involverte: Annotated[list[AgencyParty], Meta(max_length=50)] = []
