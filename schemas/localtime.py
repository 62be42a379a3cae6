"""Times without an offset are Europe/Oslo wall-clock times; this says which instants they can mean.

Around a change of clock a wall-clock time can mean no instant or two. The tz database's
rules for Europe/Oslo (EU rules since 1996): summer time from the last Sunday of March at
01:00 UTC (02:00 becomes 03:00) to the last Sunday of October at 01:00 UTC (03:00 becomes
02:00). So 29.03.2026 02:30 does not exist, and 25.10.2026 02:30 happens twice.
"""

from __future__ import annotations

import datetime as dt
import enum
import zoneinfo

import msgspec

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")


class Kind(enum.Enum):
    """What a wall-clock time is in Europe/Oslo."""

    ORDINARY = "ordinary"  # one instant (also every time that carries its offset)
    NONEXISTENT = "nonexistent"  # skipped when the clock moved forward
    AMBIGUOUS = "ambiguous"  # happened twice when the clock moved back


# A msgspec Struct, not a frozen dataclass: made for every time of every report decoded,
# where a frozen dataclass's __init__ costs several times more.
class Readings(msgspec.Struct, frozen=True):
    """The instants (UTC) a time can mean: `chosen` is the rule's reading, `other` the
    second reading around a change of clock (None for an ordinary time).

    The rule: a time that does not exist moves forward by the gap (02:30 is read with the
    offset before the change, +01:00, which is 03:30 summer time); a time that happens twice
    takes the earlier instant (the summer-time reading)."""

    written: dt.datetime
    kind: Kind
    chosen: dt.datetime
    other: dt.datetime | None = None

    @property
    def options(self) -> tuple[dt.datetime, ...]:
        """The readings, the rule's first."""
        return (self.chosen,) if self.other is None else (self.chosen, self.other)

    @property
    def earliest(self) -> dt.datetime:
        """The earliest instant the time can mean."""
        return min(self.options)

    @property
    def latest(self) -> dt.datetime:
        """The latest instant the time can mean."""
        return max(self.options)


def readings(value: dt.datetime) -> Readings:
    """The instants `value` can mean; a time with an offset means exactly one.

    Raises OverflowError for a time whose UTC instant lies outside what datetime holds.
    """
    if value.tzinfo is not None:
        return Readings(value, Kind.ORDINARY, value.astimezone(dt.UTC))
    wall = value.replace(fold=0)
    # fold=0 takes the offset in force before a change, fold=1 the one after it.
    before = wall.replace(tzinfo=OSLO).astimezone(dt.UTC)
    after = wall.replace(tzinfo=OSLO, fold=1).astimezone(dt.UTC)
    if before == after:
        return Readings(value, Kind.ORDINARY, before)
    # The round trip: a time that exists comes back as written; one in the gap does not.
    if before.astimezone(OSLO).replace(tzinfo=None, fold=0) != wall:
        return Readings(value, Kind.NONEXISTENT, before, after)
    return Readings(value, Kind.AMBIGUOUS, min(before, after), max(before, after))


def period(start: Readings, end: Readings) -> tuple[dt.datetime, dt.datetime] | None:
    """The instants of a period from `start` to `end`: the rule's readings when they make a
    period (end not before start), else the first pair of readings that does; None when no
    reading of the end lies at or after a reading of the start."""
    for first in start.options:
        for last in end.options:
            if last >= first:
                return first, last
    return None


def fits_period(value: Readings, others: Readings, *, is_start: bool) -> tuple[dt.datetime, ...]:
    """The readings of one end of a period that some reading of the other end allows."""
    if is_start:
        return tuple(r for r in value.options if any(o >= r for o in others.options))
    return tuple(r for r in value.options if any(r >= o for o in others.options))
