"""What the OpenAPI document's words say of a time or date a client sends, worked out from the
calendar and RFC 3339, not from the intake's code: the instant it names, and whether the
descriptions say the server refuses it (422) though its pattern allows it."""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from schemas.report import EARLIEST_YEAR, LATEST_YEAR

# The contract: times in the years EARLIEST_YEAR to LATEST_YEAR in UTC; a time without an
# offset is Europe/Oslo time (the tz database's rules for the zone).
FIRST = dt.datetime(EARLIEST_YEAR, 1, 1, tzinfo=dt.UTC)
AFTER = dt.datetime(LATEST_YEAR + 1, 1, 1, tzinfo=dt.UTC)
OSLO = ZoneInfo("Europe/Oslo")

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_FORM_TIME = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{4}) ([0-9]{2}):([0-9]{2})")
_FORM_DATE = re.compile(r"([0-9]{2})\.([0-9]{2})\.([0-9]{4})")


def leap(year: int) -> bool:
    """The Gregorian calendar's leap years: divisible by 4, centuries only by 400."""
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _no_such_day(year: int, month: int, day: int) -> bool:
    return (month, day) == (2, 29) and not leap(year)


def _in_years(instant: dt.datetime) -> dt.datetime | None:
    return instant if FIRST <= instant < AFTER else None


def named(value: str) -> dt.datetime | None:
    """The instant an RFC 3339 date-time (or one without an offset) names, in UTC: None for
    29 February of a year that is not a leap year or an instant outside the contract's years.
    A fraction is rounded to the microsecond (half up, as the document says); no offset:
    Europe/Oslo time, a time the clock change skips or repeats read as the tz database's
    first reading (fold 0: forward by the gap, the earlier instant), as the contract says."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError(f"not a date-time of the document's forms: {value!r}")
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    if _no_such_day(year, month, day):
        return None
    micro = (Decimal(match[7] or "0") * 10**6).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    offset = match[8]
    if offset is None:
        zone: dt.tzinfo = OSLO
    elif offset in {"Z", "z"}:
        zone = dt.UTC
    else:
        sign = -1 if offset[0] == "-" else 1
        zone = dt.timezone(sign * dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:])))
    local = dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)
    return _in_years(local.astimezone(dt.UTC) + dt.timedelta(microseconds=int(micro)))


def refused_as_documented(path: str, value: str) -> bool:
    """Whether the document's descriptions say the server refuses this value at this JSON
    path (with 422) although its pattern allows it: 29 February of a year that is not a leap
    year; a time (an RFC 3339 one, or the citizen form's) outside the years in UTC; an
    agency's first day (`gjerningsperiode.fra`) whose 00:00 Oslo time is outside them. A
    value that is no day of any calendar (month 13) is not of this kind: False."""
    try:
        return _refused(path, value)
    except ValueError:
        return False


def _refused(path: str, value: str) -> bool:
    if _RFC3339.fullmatch(value):
        return named(value) is None
    if match := _DATE.fullmatch(value):
        year, month, day = (int(part) for part in match.groups())
        if _no_such_day(year, month, day):
            return True
        return path.endswith(".gjerningsperiode.fra") and named(f"{value}T00:00:00") is None
    if match := _FORM_TIME.fullmatch(value):
        dd, mm, yyyy, hour, minute = match.groups()
        if _no_such_day(int(yyyy), int(mm), int(dd)):
            return True
        return named(f"{yyyy}-{mm}-{dd}T{hour}:{minute}:00") is None
    if match := _FORM_DATE.fullmatch(value):
        day, month, year = (int(part) for part in match.groups())
        return _no_such_day(year, month, day)
    return False
