"""Norwegian identity numbers: fødselsnummer, D-, H-, FH- and synthetic numbers; orgnr.

Check digits and compaction come from python-stdnum (`stdnum.no.fodselsnummer`,
`stdnum.no.orgnr`). What stdnum does not cover is added here: Test-Norge synthetic numbers
(month + 80), the 2032 rule for the first check digit, and birth dates for numbers whose
individual digits no longer carry the century.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.no import fodselsnummer as fnr
from stdnum.no import orgnr

from schemas.report import EARLIEST_YEAR, IdKind

_K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
# From 2032 the first check digit may leave a remainder of 0-3 instead of exactly 0
# (https://skatteetaten.github.io/folkeregisteret-api-dokumentasjon/nytt-fodselsnummer-fra-2032/).
_K1_REMAINDERS_2032 = frozenset({0, 1, 2, 3})


class IdentityError(ValueError):
    """A number that is not a valid identity number; `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class NationalId:
    """A valid identity number, classified."""

    number: str
    kind: IdKind
    birth_date: dt.date | None
    checksum_2032: bool


def compact(number: str) -> str:
    """The number without spaces, dashes and colons."""
    return str(fnr.compact(number))


def _k1_remainder(number: str) -> int:
    return (
        sum(w * int(d) for w, d in zip(_K1_WEIGHTS, number, strict=False)) + int(number[9])
    ) % 11


def _check_digits(number: str, *, allow_2032: bool) -> bool:
    if number[10] != fnr.calc_check_digit2(number):
        return False
    if number[9] == fnr.calc_check_digit1(number):
        return True
    return allow_2032 and _k1_remainder(number) in _K1_REMAINDERS_2032


def _kind_and_date_parts(number: str) -> tuple[IdKind, int, int]:
    day, month = int(number[0:2]), int(number[2:4])
    if day >= 80:
        return IdKind.FH_NUMMER, 0, 0
    if month > 80:
        return IdKind.SYNTHETIC, day - 40 if day > 40 else day, month - 80
    if month > 40:
        return IdKind.H_NUMMER, day, month - 40
    if day > 40:
        return IdKind.D_NUMMER, day - 40, month
    return IdKind.FODSELSNUMMER, day, month


def _century_by_individual_digits(yy: int, individual: int) -> int | None:
    if individual < 500:
        return 1900
    if individual < 750 and yy >= 54:
        return 1800
    if individual < 1000 and yy < 40:
        return 2000
    if 900 <= individual < 1000 and yy >= 40:
        return 1900
    return None


def _birth_date(number: str, day: int, month: int, *, today: dt.date, new_rules: bool) -> dt.date:
    yy, individual = int(number[4:6]), int(number[6:9])
    century = None if new_rules else _century_by_individual_digits(yy, individual)
    if century is None:
        # Numbers issued under the 2032 rules carry no century: take the latest past year.
        century = (today.year // 100) * 100
        if century + yy > today.year:
            century -= 100
    try:
        born = dt.date(century + yy, month, day)
    except ValueError as exc:
        raise IdentityError("national_id.date", "the number holds no valid birth date") from exc
    if born > today:
        raise IdentityError("national_id.date", "the birth date is in the future")
    if born.year < EARLIEST_YEAR:
        raise IdentityError("national_id.date", f"the birth date is before {EARLIEST_YEAR}")
    return born


def classify(number: str, *, today: dt.date, allow_2032: bool = True) -> NationalId:
    """Validate and classify an identity number, or raise `IdentityError`."""
    digits = compact(number)
    if len(digits) != 11 or not digits.isdigit():
        raise IdentityError("national_id.format", "an identity number has 11 digits")
    classic = digits[9] == fnr.calc_check_digit1(digits)
    if not _check_digits(digits, allow_2032=allow_2032):
        raise IdentityError("national_id.checksum", "the check digits do not match")
    kind, day, month = _kind_and_date_parts(digits)
    born = None
    if kind is not IdKind.FH_NUMMER:
        born = _birth_date(digits, day, month, today=today, new_rules=not classic)
    return NationalId(number=digits, kind=kind, birth_date=born, checksum_2032=not classic)


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Whole years of age on a given day."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def valid_orgnr(number: str) -> str | None:
    """The compact organisasjonsnummer when valid, else None."""
    try:
        return str(orgnr.validate(number))
    except StdnumValidationError:
        return None
