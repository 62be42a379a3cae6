"""Reading rule files: strict YAML with line numbers, a typed error hierarchy, a checking reader.

Shared by the rules loader (`rules`) and the condition parser (`condition_tree`), so that
every error names the file, the line and the rule, and quotes the value as written. The
YAML itself is read by `services.common.yamltext` (a plain value means what it says).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from schemas.reference import name_key
from services.common import yamltext
from services.common.yamltext import MAX_DEPTH, MAX_FILE_BYTES, Located, written, written_in

__all__ = ["MAX_DEPTH", "MAX_FILE_BYTES", "Located", "written", "written_in"]

DURATION_KEYS = frozenset({"weeks", "days", "hours", "minutes"})
_MINUTES = {"weeks": 7 * 24 * 60, "days": 24 * 60, "hours": 60, "minutes": 1}
_UNITS = ("weeks", "days", "hours", "minutes")  # largest first
_CLOCK = re.compile(r"^(?P<hours>\d+):(?P<minutes>[0-5]\d)$")
# The longest duration a rule may name: 100 years (of 365.25 days), in minutes. No time in
# criminal law comes near it: the longest limitation period is 25 years (straffeloven
# § 86), and an offence without one (§ 91) has no period to count. A deadline or an age
# of an act beyond a lifetime is a typing error, and 100 years after any time a report can
# have (1900-2100) is still a time Python and PostgreSQL hold, so no deadline overflows.
MAX_DURATION_MINUTES = 36_525 * 24 * 60


class RulesError(ValueError):
    """A rules or unit file that cannot be used; says where."""

    def __init__(
        self, message: str, *, file: str, line: int | None = None, rule: str | None = None
    ):
        self.file, self.line, self.rule, self.reason = file, line, rule, message
        where = file + (f":{line}" if line else "") + (f": rule {rule}" if rule else "")
        super().__init__(f"{where}: {message}")


class RulesSyntaxError(RulesError):
    """Not YAML, or YAML that uses what rules never need (tags, aliases)."""


class UnknownKeyError(RulesError):
    """A key the format does not have."""


class WrongTypeError(RulesError):
    """A value of the wrong type or out of range."""


class UnknownReferenceError(RulesError):
    """An offence, district, municipality, section or unit that does not exist."""


def read_file(path: Path) -> str:
    """A rules or unit file's text, or `RulesSyntaxError`: too large, or not UTF-8."""
    try:
        return yamltext.read_text(path)
    except yamltext.YamlTextError as exc:
        raise RulesSyntaxError(exc.problem, file=exc.file, line=exc.line) from None


def parse_yaml(text: str, file: str) -> Any:
    """The YAML document (see `yamltext`), or `RulesSyntaxError` with its line."""
    try:
        return yamltext.load(text, file)
    except yamltext.YamlTextError as exc:
        raise RulesSyntaxError(exc.problem, file=exc.file, line=exc.line) from None


class Reader:
    """Typed access to a `Located` mapping, raising errors with file, line and rule."""

    def __init__(self, file: str, rule: str | None = None) -> None:
        self.file, self.rule = file, rule

    def mapping(self, value: Any, line: int, what: str, allowed: set[str] | None = None) -> Located:
        if not isinstance(value, Located):
            raise WrongTypeError(
                f"{what} must be a mapping", file=self.file, line=line, rule=self.rule
            )
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise UnknownKeyError(
                        f"unknown key {key!r} in {what} (allowed: {', '.join(sorted(allowed))})",
                        file=self.file,
                        line=value.key_lines.get(str(key), value.line),
                        rule=self.rule,
                    )
        return value

    def text(self, value: Any, line: int, what: str) -> str:
        """A non-empty text; a whole number counts as the text it was written as."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(WrongTypeError, f"{what} must be a text, not `{written(value)}`", line)
        return value

    def strings(self, value: Any, line: int, what: str) -> list[str]:
        """A text or a list of texts; a whole number counts as the text it was written as."""
        items = value if isinstance(value, list) else [value]
        lines = getattr(value, "item_lines", None) or [line] * len(items)
        if not items:
            raise self.fail(WrongTypeError, f"{what} must be a text or a list of texts", line)
        for item, at in zip(items, lines, strict=True):
            if not isinstance(item, str | int) or isinstance(item, bool):
                raise self.fail(
                    WrongTypeError,
                    f"{what} must be a text or a list of texts, not `{written(item)}`",
                    at,
                )
        return [str(i) for i in items]

    def flag(self, spec: Located, key: str) -> bool | None:
        """`key: true` or `key: false` in `spec`, None when absent."""
        value = spec.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.fail(
                WrongTypeError,
                f"{shown(spec, key)} must be true or false",
                spec.key_lines.get(key, spec.line),
            )
        return value

    def fail(self, kind: type[RulesError], message: str, line: int | None) -> RulesError:
        return kind(message, file=self.file, line=line, rule=self.rule)


class Duration(NamedTuple):
    """A duration as a rule gives it: `delta`, and the `amount` and `unit` as written."""

    delta: dt.timedelta
    amount: int
    unit: str

    def __str__(self) -> str:
        """As written, in words: `hours: 0` is "0 hours", `weeks: 1` "1 week"."""
        return f"{self.amount} {self.unit if self.amount != 1 else self.unit[:-1]}"


def shown(spec: Located, key: str) -> str:
    """`key: value` as written in `spec`, and whether quotes made the value text: the
    start of a message about a value that should have been a number or true/false."""
    text = f"`{key}: {written_in(spec, key)}`"
    return text + " (quoted, so it is text)" if yamltext.is_quoted(spec, key) else text


def duration(read: Reader, spec: Located) -> Duration:
    """One of `weeks`, `days`, `hours`, `minutes`, a plain whole number from 0 to 100 years
    (`MAX_DURATION_MINUTES`). Anything else is refused quoting the text as written and,
    where it reads as an amount, the fix (`hours: 1:30` is not a whole number; write
    `minutes: 90`)."""
    given = [unit for unit in _UNITS if unit in spec]
    if len(given) != 1:
        named = " and ".join(given) or "none of them"
        raise read.fail(
            WrongTypeError,
            f"a duration is one of weeks, days, hours, minutes (a whole number), not {named}",
            spec.line,
        )
    (unit,) = given
    value, line = spec[unit], spec.key_lines.get(unit, spec.line)
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise read.fail(WrongTypeError, f"{shown(spec, unit)} is negative", line)
        if value * _MINUTES[unit] > MAX_DURATION_MINUTES:  # ints: no overflow to check
            most = MAX_DURATION_MINUTES // _MINUTES[unit]
            raise read.fail(
                WrongTypeError,
                f"{shown(spec, unit)} is longer than 100 years, more than any time in law: "
                f"write at most `{unit}: {most}`",
                line,
            )
        return Duration(dt.timedelta(minutes=value * _MINUTES[unit]), value, unit)
    fix = _fix(unit, written(value))
    raise read.fail(WrongTypeError, f"{shown(spec, unit)} is not a whole number; {fix}", line)


def _fix(unit: str, text: str) -> str:
    """How to write an amount given as a clock time (`1:30` hours), a fraction (`1.5`,
    `1,5`) or with leading zeros (`07`): in the largest unit where it is whole."""
    clock = _CLOCK.match(text)
    minutes: Decimal | None = None
    if clock and unit == "hours":
        minutes = Decimal(int(clock["hours"]) * 60 + int(clock["minutes"]))
    elif re.fullmatch(r"\d+(?:[.,]\d+)?", text):
        minutes = Decimal(text.replace(",", ".")) * _MINUTES[unit]
    if minutes is not None:
        for smaller in _UNITS[_UNITS.index(unit) :]:
            amount = minutes / _MINUTES[smaller]
            if amount == amount.to_integral_value():
                return f"write `{smaller}: {int(amount)}`"
    return f"write a whole number of {unit}"


# --- suggestions for a name that is not known -------------------------------------------------

# Letters a slug writes plainly (`Sør-Øst` is `sor-ost`, `Møre og Romsdal` `more-og-romsdal`).
_PLAIN = str.maketrans({"ø": "o", "æ": "ae", "đ": "d", "ł": "l", "ŋ": "n", "ß": "ss"})


def _fold(text: str) -> str:
    """A name's key (`name_key`) with accents dropped and words joined by `-`, as slugs are."""
    key = unicodedata.normalize("NFKD", name_key(text).translate(_PLAIN))
    bare = "".join(c for c in key if not unicodedata.combining(c))
    return re.sub(r"[\s_]+", "-", bare)


def nearest(
    text: str,
    known: Iterable[str],
    aliases: Mapping[str, str] | None = None,
    *,
    limit: int = 3,
    cutoff: float = 0.6,
) -> list[str]:
    """Up to `limit` known names closest to `text`, closest first: the known name written
    another way (case, accents, spaces for `-`: `oslo` is `Oslo`), an alias of one
    (`aliases`: other text -> a known name), then, for a text that is not a number, names
    whose folded spelling is at least `cutoff` similar (difflib's ratio, 0-1)."""
    folded: dict[str, str] = {}
    for name in known:
        folded.setdefault(_fold(name), name)
    for alias, name in (aliases or {}).items():
        folded.setdefault(_fold(alias), name)
    key = _fold(text)
    found = [folded[key]] if key in folded else []
    if not key.isdigit():  # a number one digit away is another place
        for close in difflib.get_close_matches(key, list(folded), n=limit + 1, cutoff=cutoff):
            if folded[close] not in found:
                found.append(folded[close])
    return found[:limit]


def suggestion(text: str, known: Iterable[str], aliases: Mapping[str, str] | None = None) -> str:
    """` (did you mean `X`?)` for a name not in `known`, or "" when nothing is close: the
    known name written another way (case, accents, spaces for `-`: `oslo` is `Oslo`), an
    alias of one (`aliases`: other text -> a known name), or, for a name that is not a
    number, one a typing error away (`wepon`: `weapon`)."""
    found = nearest(text, known, aliases, limit=1, cutoff=0.8)
    return f" (did you mean `{found[0]}`?)" if found and found[0] != text else ""
