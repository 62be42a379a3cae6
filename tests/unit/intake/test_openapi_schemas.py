"""The document's time and date patterns against the server: every value a pattern allows is
read, or refused with the 422 its description names (29 February of a year that is not a leap
year, an instant outside the contract's years in UTC); leap days and RFC 3339's forms are
allowed; the document is stricter only where it says so. Text patterns say the same in any
regex dialect."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from schemas import reference
from schemas.report import Person, Report, Role, as_utc
from schemas.sources import AgencyReport, CitizenReport
from schemas.textrules import ACCOUNT
from services.intake.adapters.agency import from_agency
from services.intake.adapters.citizen import from_citizen
from services.intake.openapi_schemas import (
    CONTRACT_TEXT,
    DATE_IN,
    DATE_TIME,
    LOCAL_DATE_FORM,
    LOCAL_DATE_TIME,
    LOCAL_TIME_FORM,
    NO_NUL,
    TEXT,
)
from services.intake.validation import ReportProblems
from tests.support.documented_times import leap, named

EXAMPLES = Path(__file__).parents[3] / "schemas" / "examples" / "sources"


def test_text_spells_out_the_white_space_python_reads() -> None:
    # The document's text patterns must refuse the same texts in every regex dialect: no
    # class escape whose meaning differs between Python and ECMA-262 (`\s`, `\w`, `\d`, `\b`),
    # and the white space they list is exactly what Python's str.isspace calls white space.
    for pattern in (TEXT, CONTRACT_TEXT, ACCOUNT, NO_NUL):
        assert not re.search(r"\\[sSwWdDbB]", pattern), pattern
    for code in range(0x110000):
        text = chr(code)
        control = code < 0x20 or 0x7F <= code <= 0x9F
        separator = code in (0x2028, 0x2029)  # a line break (UAX #14): not in one line
        assert bool(re.fullmatch(TEXT, text)) == (not text.isspace() and not control), code
        assert bool(re.fullmatch(TEXT, f" {text}a")) == (not control and not separator), code
    assert re.fullmatch(ACCOUNT, "a\r\n\tb")
    assert not re.fullmatch(TEXT, "a\x1c")


def reads(value: str) -> dt.datetime | None:
    """The instant the server reads, or None where it refuses the value (422)."""
    try:
        report = msgspec.convert(
            {
                "source": "s",
                "external_id": "x",
                "reported_at": value,
                "incident": {"occurred_from": value, "description": "d"},
                "offences": [{"code": "strl-321"}],
            },
            Report,
        )
    except msgspec.ValidationError:
        return None
    return as_utc(report.reported_at)


# The new user's leap day, the calendar's own rules for 1900, 2000 and 2100, the year's
# first and last instants with offsets that move them out, and RFC 3339's other forms.
@given(st.from_regex(DATE_TIME["pattern"], fullmatch=True))
@example("2024-02-29T10:00:00Z")
@example("2023-02-29T10:00:00Z")
@example("2000-02-29T00:00:00+01:00")
@example("1900-02-29T12:00:00Z")
@example("2100-02-29T12:00:00Z")
@example("1900-01-01T00:30:00+01:00")
@example("1900-01-01T01:00:00+01:00")
@example("1900-06-01T10:00:00Z")
@example("2100-12-31T23:30:00-01:00")
@example("2100-12-31T23:59:59.999999Z")
@example("2100-12-31T23:59:59.9999995Z")
@example("2024-02-29t10:00:00z")
@example("2024-02-29T10:00:00.1234567Z")
@example("2024-02-29T10:00:00.123456789+01:00")
@example("2024-02-29T10:00:00-00:00")
def test_every_date_time_the_document_allows_is_read_or_refused_as_it_says(value: str) -> None:
    assert reads(value) == named(value)


@given(st.from_regex(LOCAL_DATE_TIME["pattern"], fullmatch=True))
@example("2024-02-29T10:00:00")
@example("2023-02-29T10:00:00")
@example("1900-01-01T00:30:00")  # 1899-12-31T23:30 in UTC
@example("1900-01-01T01:00:00")
@example("2100-12-31T23:59:59")
@example("2026-03-29T02:30:00")  # skipped by the spring change: read as 01:30 UTC
@example("2026-10-25T02:30:00")  # repeated in the autumn: the earlier instant
def test_every_local_time_the_document_allows_is_read_or_refused_as_it_says(value: str) -> None:
    assert reads(value) == named(value)


def reads_date(value: str) -> dt.date | None:
    """A person's birth date as the server reads it, or None where it refuses it (422)."""
    try:
        return msgspec.convert({"role": Role.VICTIM, "birth_date": value}, Person).birth_date
    except msgspec.ValidationError:
        return None


@given(st.from_regex(DATE_IN["pattern"], fullmatch=True))
@example("2024-02-29")
@example("2023-02-29")
@example("1900-02-29")
@example("2000-02-29")
@example("1900-01-01")
@example("2100-12-31")
def test_every_date_the_document_allows_is_read_or_refused_as_it_says(value: str) -> None:
    year, month, day = (int(part) for part in value.split("-"))
    refused = (month, day) == (2, 29) and not leap(year)
    assert reads_date(value) == (None if refused else dt.date(year, month, day))


def _citizen(**fields: Any) -> CitizenReport:
    form = json.loads((EXAMPLES / "citizen.json").read_text("utf-8"))
    form.pop("hendelse_til", None)
    form["anmelder"].pop("fodselsnummer", None)
    form.update(fields)
    return msgspec.convert(form, CitizenReport)


def reads_citizen(form: CitizenReport) -> Report | None:
    """The canonical report the citizen form becomes, or None where it is refused (422)."""
    try:
        return from_citizen(form, reference.load())
    except ReportProblems:
        return None


@given(st.from_regex(LOCAL_TIME_FORM, fullmatch=True))
@example("29.02.2024 10:00")
@example("29.02.2023 10:00")
@example("29.02.1900 10:00")
@example("29.02.2000 10:00")
@example("01.01.1900 00:30")
@example("01.01.1900 01:00")
@example("31.12.2100 23:59")
def test_every_citizen_time_the_document_allows_is_read_or_refused_as_it_says(
    value: str,
) -> None:
    day, month, rest = value.split(".")
    year, clock = rest.split(" ")
    expected = named(f"{year}-{month}-{day}T{clock}:00")
    read = reads_citizen(_citizen(innsendt=value, hendelse_fra=value))
    assert (None if read is None else as_utc(read.incident.occurred_from)) == expected


@given(st.from_regex(LOCAL_DATE_FORM, fullmatch=True))
@example("29.02.2024")
@example("29.02.2023")
@example("01.01.1900")
def test_every_citizen_date_the_document_allows_is_read_or_refused_as_it_says(
    value: str,
) -> None:
    day, month, year = (int(part) for part in value.split("."))
    refused = (month, day) == (2, 29) and not leap(year)
    form = _citizen(anmelder={"fornavn": "Kari", "fodselsdato": value})
    read = reads_citizen(form)
    born = None if read is None else read.persons[0].birth_date
    assert born == (None if refused else dt.date(year, month, day))


@pytest.mark.parametrize(
    ("first_day", "read"),
    [
        # 00:00 on 1 January 1900 in Oslo (UTC+1) is 1899 in UTC: the description says so.
        ("1900-01-01", False),
        ("1900-01-02", True),
        ("2024-02-29", True),
        ("2100-12-31", True),
    ],
)
def test_an_agencys_first_day_is_refused_only_where_its_description_says(
    first_day: str, read: bool
) -> None:
    report = json.loads((EXAMPLES / "agency.json").read_text("utf-8"))
    report["gjerningsperiode"] = {"fra": first_day}
    assert re.fullmatch(DATE_IN["pattern"], first_day)
    try:
        from_agency(msgspec.convert(report, AgencyReport), reference.load())
    except ReportProblems:
        assert not read
    else:
        assert read


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        (DATE_TIME["pattern"], "2024-02-29T10:00:00Z"),
        (LOCAL_DATE_TIME["pattern"], "2024-02-29T10:00:00"),
        (DATE_IN["pattern"], "2024-02-29"),
        (LOCAL_TIME_FORM, "29.02.2024 10:00"),
        (LOCAL_DATE_FORM, "29.02.2024"),
        (DATE_TIME["pattern"], "1900-06-01T10:00:00Z"),
        (DATE_IN["pattern"], "1900-01-01"),
        (DATE_TIME["pattern"], "2100-12-31T22:00:00Z"),
        (DATE_TIME["pattern"], "2024-02-29t10:00:00z"),
        (DATE_TIME["pattern"], "2024-02-29T10:00:00.1234567Z"),
    ],
)
def test_the_document_allows_leap_days_the_contracts_years_and_rfc_3339s_forms(
    pattern: str, value: str
) -> None:
    assert re.fullmatch(pattern, value)


@pytest.mark.parametrize(
    "value",
    [
        "2024-02-29 10:00:00Z",  # RFC 3339 section 5.6's NOTE allows a space; its ABNF does not
        "2024-02-29T10:00:00+0100",  # ISO 8601's basic offset, not RFC 3339's
    ],
)
def test_the_document_is_stricter_than_the_server_only_in_forms_no_client_needs(
    value: str,
) -> None:
    assert reads(value) is not None
    assert not re.fullmatch(DATE_TIME["pattern"], value)


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-30T10:00:00Z",
        "2026-11-30T10:00:60Z",
        "2026-11-30T24:00:00",
        "1899-12-31T23:59:59Z",
        "2101-01-01T00:00:00Z",
        "2026-11-30T10:00Z",
    ],
)
def test_what_neither_the_document_nor_the_server_takes(value: str) -> None:
    assert reads(value) is None
    assert not re.fullmatch(DATE_TIME["pattern"], value)
    assert not re.fullmatch(LOCAL_DATE_TIME["pattern"], value)
