"""The canonical crime report contract, v1: what every upstream system's report becomes."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

import msgspec
from msgspec import Meta

from schemas.localtime import OSLO as OSLO  # the contract's zone, imported from here too
from schemas.localtime import readings
from schemas.textrules import ACCOUNT, FOUR_DIGITS, LINE, ORGANISATION_NUMBER, SOURCE_ID

SCHEMA_VERSION = 1
# Times outside these years are typing errors, not crimes; they are refused structurally
# (and would overflow when converted to UTC).
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100
# An age at the incident past this is a typing error in a date, not a person.
MAX_AGE = 150

# Text: at least one character that is not white space (trimming never leaves ""), and no
# control character (U+0000 no PostgreSQL text can hold; a line break or an escape in a name or
# a reference reaches a unit's system as it came). Free text (ACCOUNT) keeps tab and line
# breaks.
TEXT = LINE
Text200 = Annotated[str, Meta(min_length=1, max_length=200, pattern=TEXT)]
SourceId = Annotated[
    str,
    Meta(
        pattern=SOURCE_ID,
        description="The sending system's id: lower case letters, digits, '_', '.', '-'.",
    ),
]
ExternalId = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=128,
        pattern=TEXT,
        description="The sender's own reference; unique per source.",
    ),
]
Kommunenummer = Annotated[
    str, Meta(pattern=FOUR_DIGITS, description="4-digit kommunenummer, 2024 numbering.")
]
PostalCode = Annotated[str, Meta(pattern=FOUR_DIGITS, description="Norwegian postal code.")]
Description = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=20_000,
        pattern=ACCOUNT,
        description="Free-text account of what happened.",
    ),
]
OffenceCode = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        pattern=TEXT,
        description=(
            "Offence code. Canonical form is '<law>-<section>' such as 'strl-321' "
            "(straffeloven 2005 § 321); forms like 'strl. 321' or 'straffeloven § 321' are "
            "normalised by the intake. The repealed penal code of 1902 is 'strl1902-<section>' "
            "(also written 'straffeloven (1902) § 231', 'gml. strl. § 231', ...): the intake "
            "converts it where the conversion is verified, else records a quality issue."
        ),
    ),
]
NationalIdText = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=20,
        pattern=TEXT,
        description="Fødselsnummer, D- or H-nummer (11 digits; spaces allowed on input).",
    ),
]


class Role(enum.StrEnum):
    """A person's part in the case."""

    VICTIM = "victim"
    SUSPECT = "suspect"
    WITNESS = "witness"
    REPORTER = "reporter"


class IdKind(enum.StrEnum):
    """What kind of Norwegian identity number a person carries (set by the intake)."""

    FODSELSNUMMER = "fodselsnummer"
    D_NUMMER = "d-nummer"
    H_NUMMER = "h-nummer"
    FH_NUMMER = "fh-nummer"
    SYNTHETIC = "synthetic"


class Offence(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One offence in the report: a canonical code and/or a free-text label."""

    code: OffenceCode | None = None
    label: Text200 | None = None

    def __post_init__(self) -> None:
        if self.code is None and self.label is None:
            raise ValueError("an offence needs a `code` or a `label`")


class Person(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A person in the case. `id_kind` and `age_at_incident` are set by the intake."""

    role: Role
    national_id: NationalIdText | None = None
    birth_date: dt.date | None = None
    name: Text200 | None = None
    phone: Annotated[str, Meta(min_length=1, max_length=40, pattern=TEXT)] | None = None
    arrested_at: dt.datetime | None = None
    id_kind: IdKind | None = None
    age_at_incident: Annotated[int, Meta(ge=0, le=MAX_AGE)] | None = None

    def __post_init__(self) -> None:
        _in_range("birth_date", self.birth_date)
        _in_range("arrested_at", self.arrested_at)


class Flags(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Yes/no facts that move priority."""

    domestic_violence: bool = False
    hate_motive: bool = False
    weapon: bool = False
    ongoing_danger: bool = False


class Incident(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Where and when it happened, and the account of it."""

    occurred_from: dt.datetime
    description: Description
    occurred_to: dt.datetime | None = None
    municipality: Kommunenummer | None = None
    municipality_name: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=200,
                pattern=TEXT,
                description=(
                    "The municipality's name as written (Norwegian, Sami or Kven name); the "
                    "intake finds `municipality` from it when no number is given."
                ),
            ),
        ]
        | None
    ) = None
    address: Annotated[str, Meta(min_length=1, max_length=500, pattern=TEXT)] | None = None
    postal_code: PostalCode | None = None

    def __post_init__(self) -> None:
        _in_range("occurred_from", self.occurred_from)
        _in_range("occurred_to", self.occurred_to)
        # Refused only when no reading makes a period: 02:50 to 02:10 on the night the clock
        # goes back is 20 real minutes (02:50 summer time to 02:10 winter time).
        end = self.occurred_to
        if end is None:
            return
        start = self.occurred_from
        if end.tzinfo is not None and start.tzinfo is not None:
            ordered = end >= start  # one instant each: the common case, compared directly
        else:
            ordered = readings(end).latest >= readings(start).earliest
        if not ordered:
            raise ValueError("`occurred_to` is before `occurred_from`")


class QualityIssue(msgspec.Struct, frozen=True):
    """A soft problem found while standardising: recorded, and the report goes to triage."""

    code: str
    path: str
    message: str


class Note(msgspec.Struct, frozen=True):
    """Something the intake changed while standardising that a person may want to know
    (an old municipality number renumbered, a repealed law converted); no triage."""

    code: str
    path: str
    message: str


class Report(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A crime report in the canonical contract (v1).

    Upstream systems send it; the intake standardises it into the same shape, filling
    `quality_issues`, `notes` and the persons' derived fields (what a client sends there is
    replaced).
    """

    source: SourceId
    external_id: ExternalId
    reported_at: dt.datetime
    incident: Incident
    offences: Annotated[list[Offence], Meta(min_length=1, max_length=20)]
    persons: Annotated[list[Person], Meta(max_length=50)] = []
    flags: Flags = msgspec.field(default_factory=Flags)
    reporter_org: (
        Annotated[str, Meta(pattern=ORGANISATION_NUMBER, description="Organisasjonsnummer.")] | None
    ) = None
    quality_issues: list[QualityIssue] = []
    notes: list[Note] = []

    def __post_init__(self) -> None:
        _in_range("reported_at", self.reported_at)


def as_utc(value: dt.datetime) -> dt.datetime:
    """The instant in UTC; a naive time is Europe/Oslo local time, as the contract says (one
    that does not exist moves forward by the gap, one that happens twice is the earlier)."""
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    return readings(value).chosen


def _in_range(name: str, value: dt.date | None) -> None:
    # An offset moves a time by less than a day, so only the first and last allowed years
    # can leave the range in UTC: the others need no conversion (decoding every report
    # runs this for each of its times).
    if value is not None and EARLIEST_YEAR < value.year < LATEST_YEAR:
        return
    if isinstance(value, dt.datetime):
        try:
            value = as_utc(value)
        except OverflowError:
            value = dt.datetime.min if value.year < EARLIEST_YEAR else dt.datetime.max
    if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"`{name}` must lie between {EARLIEST_YEAR} and {LATEST_YEAR}")
