"""Identity numbers: property tests against an independent generator built from the rules."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from schemas.report import IdKind
from services.common.identity import IdentityError, age_on, classify, valid_orgnr

TODAY = dt.date(2026, 11, 27)
K1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
K2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _check(digits: str, weights: tuple[int, ...]) -> int | None:
    k = 11 - sum(w * int(d) for w, d in zip(weights, digits, strict=False)) % 11
    k = 0 if k == 11 else k
    return None if k == 10 else k


def make(born: dt.date, individual: int, kind: IdKind) -> str | None:
    """Build a number by the published rules; None when no check digit exists."""
    day, month = born.day, born.month
    if kind is IdKind.D_NUMMER:
        day += 40
    elif kind is IdKind.H_NUMMER:
        month += 40
    elif kind is IdKind.SYNTHETIC:
        month += 80
    base = f"{day:02d}{month:02d}{born.year % 100:02d}{individual:03d}"
    k1 = _check(base, K1)
    if k1 is None:
        return None
    k2 = _check(base + str(k1), K2)
    return None if k2 is None else f"{base}{k1}{k2}"


def individual_for(year: int) -> st.SearchStrategy[int]:
    if 1900 <= year <= 1999:
        return st.integers(0, 499)
    return st.integers(500, 999)


births = st.dates(dt.date(1940, 1, 1), TODAY)
kinds = st.sampled_from([IdKind.FODSELSNUMMER, IdKind.D_NUMMER, IdKind.H_NUMMER, IdKind.SYNTHETIC])


@given(data=st.data(), born=births, kind=kinds)
def test_valid_numbers_are_classified_with_their_birth_date(
    data: st.DataObject, born: dt.date, kind: IdKind
) -> None:
    number = make(born, data.draw(individual_for(born.year)), kind)
    assume(number is not None)
    assert number is not None
    found = classify(number, today=TODAY)
    assert found.kind is kind
    assert found.birth_date == born
    assert not found.checksum_2032


@given(data=st.data(), born=births, position=st.integers(0, 10), delta=st.integers(1, 9))
def test_one_changed_digit_is_never_accepted_as_the_same_person(
    data: st.DataObject, born: dt.date, position: int, delta: int
) -> None:
    number = make(born, data.draw(individual_for(born.year)), IdKind.FODSELSNUMMER)
    assume(number is not None)
    assert number is not None
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    # The mod-11 check digits catch every single-digit error under the classic rule.
    with pytest.raises(IdentityError):
        classify(changed, today=TODAY, allow_2032=False)


@given(data=st.data(), born=births, remainder=st.sampled_from([1, 2, 3]))
def test_2032_rule_accepts_first_check_digit_remainders_0_to_3(
    data: st.DataObject, born: dt.date, remainder: int
) -> None:
    base = (
        f"{born.day:02d}{born.month:02d}{born.year % 100:02d}{data.draw(st.integers(0, 999)):03d}"
    )
    weighted = sum(w * int(d) for w, d in zip(K1, base, strict=False))
    k1 = (remainder - weighted) % 11
    assume(k1 < 10)
    k2 = _check(base + str(k1), K2)
    assume(k2 is not None)
    number = f"{base}{k1}{k2}"
    found = classify(number, today=TODAY)
    assert found.checksum_2032
    assert found.birth_date is not None
    assert (found.birth_date.month, found.birth_date.day) == (born.month, born.day)
    assert found.birth_date <= TODAY
    with pytest.raises(IdentityError) as caught:
        classify(number, today=TODAY, allow_2032=False)
    assert caught.value.code == "national_id.checksum"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("1234567890", "national_id.format"),
        ("1234567890a", "national_id.format"),
        ("15108695077", "national_id.checksum"),
    ],
)
def test_invalid_numbers_say_why(number: str, code: str) -> None:
    with pytest.raises(IdentityError) as caught:
        classify(number, today=TODAY)
    assert caught.value.code == code


def test_fh_number_has_no_birth_date() -> None:
    # FH-numbers start with 8 or 9 and hold no birth date; find one with valid check digits.
    number = None
    for serial in range(1_000_000):
        base = f"8{serial:08d}"
        k1 = _check(base, K1)
        k2 = _check(base + str(k1), K2) if k1 is not None else None
        if k1 is not None and k2 is not None:
            number = f"{base}{k1}{k2}"
            break
    assert number is not None
    found = classify(number, today=TODAY)
    assert found.kind is IdKind.FH_NUMMER
    assert found.birth_date is None


def test_number_with_spaces_is_compacted() -> None:
    assert classify("151086 95088", today=TODAY).number == "15108695088"


@given(born=births.filter(lambda d: (d.month, d.day) != (2, 29)), years=st.integers(1, 90))
def test_age_turns_on_the_birthday(born: dt.date, years: int) -> None:
    birthday = born.replace(year=born.year + years)
    assert age_on(born, born) == 0
    assert age_on(born, birthday) == years
    assert age_on(born, birthday - dt.timedelta(days=1)) == years - 1


def test_orgnr() -> None:
    assert valid_orgnr("974 760 673") == "974760673"  # Brønnøysundregistrene
    assert valid_orgnr("974760674") is None
