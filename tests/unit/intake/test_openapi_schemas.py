"""The document's patterns promise no more than the server reads (and say it in any dialect)."""

from __future__ import annotations

import datetime as dt
import re

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.report import EARLIEST_YEAR, LATEST_YEAR, Report, as_utc
from services.intake.openapi_schemas import (
    CONTRACT_TEXT,
    DATE_IN,
    DATE_TIME,
    LOCAL_DATE_TIME,
    LOCAL_TIME_FORM,
    TEXT,
)


def test_text_spells_out_the_white_space_python_reads() -> None:
    # The contract's pattern uses Python's `\s`; the document's must refuse the same texts
    # in every regex dialect, so it lists the characters: exactly the same ones.
    for code in range(0x110000):
        text = chr(code)
        assert bool(re.fullmatch(TEXT, text)) == bool(re.fullmatch(CONTRACT_TEXT, text)), code
    assert re.fullmatch(TEXT, "a\x1c")
    assert not re.fullmatch(TEXT, "\x1c\x85")


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


@given(st.from_regex(DATE_TIME["pattern"], fullmatch=True))
def test_every_date_time_the_document_allows_is_read(value: str) -> None:
    read = reads(value)
    assert read is not None
    assert EARLIEST_YEAR <= read.year <= LATEST_YEAR


@given(st.from_regex(LOCAL_DATE_TIME["pattern"], fullmatch=True))
def test_every_local_time_the_document_allows_is_read(value: str) -> None:
    assert reads(value) is not None


@given(st.from_regex(DATE_IN["pattern"], fullmatch=True))
def test_every_date_the_document_allows_is_a_date(value: str) -> None:
    assert EARLIEST_YEAR < dt.date.fromisoformat(value).year < LATEST_YEAR


@given(st.from_regex(LOCAL_TIME_FORM, fullmatch=True))
def test_every_citizen_time_the_document_allows_is_read(value: str) -> None:
    assert dt.datetime.strptime(value, "%d.%m.%Y %H:%M").year > EARLIEST_YEAR


@pytest.mark.parametrize(
    "value",
    ["2026-02-30T10:00:00Z", "1900-06-01T10:00:00Z", "2026-11-30T10:00:60Z", "2026-11-30T24:00:00"],
)
def test_what_the_document_refuses(value: str) -> None:
    assert not re.fullmatch(DATE_TIME["pattern"], value)
    assert not re.fullmatch(LOCAL_DATE_TIME["pattern"], value)
