"""Every name in the reference tables, in every form people and systems send it, finds its code."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import reference
from schemas.reference import name_key, places
from schemas.report import Report
from services.common import lawrefs
from services.common.standardise import standardise
from services.intake.adapters.agency import AgencyMapping
from services.intake.adapters.patrol import PatrolMapping
from services.intake.adapters.shared import load_mapping

REF = reference.load()
RECEIVED = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
# Zero-width space, joiners, word joiner, byte order mark, soft hyphen, direction marks,
# embeddings and isolates: Unicode category Cf.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u2066\u2067\u2069"
# Tab and line breaks are control characters, which a one-line text may not hold.
SPACES = [" ", "  ", "\u00a0", " \u2003", "\u3000"]


@st.composite
def spelled(draw: st.DrawFn, text: str) -> str:
    """`text` in another case, Unicode form, with invisible characters and other spacing."""
    cased = draw(st.sampled_from([text, text.lower(), text.upper(), text.title()]))
    chars = list(unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), cased))
    for _ in range(draw(st.integers(0, 3))):
        chars.insert(draw(st.integers(0, len(chars))), draw(st.sampled_from(INVISIBLE)))
    spaced = "".join(draw(st.sampled_from(SPACES)) if c == " " else c for c in chars)
    return draw(st.sampled_from(["", " ", "\u00a0"])) + spaced + draw(st.sampled_from(["", "  "]))


def _municipality_names() -> list[tuple[str, tuple[str, ...]]]:
    names: dict[str, set[str]] = {}
    for m in REF.municipalities.values():
        for name in (m.name, *m.other_names, f"{m.name} ({m.county_name})"):
            names.setdefault(name, set()).add(m.number)
    for row in places.rows("not_municipalities.csv"):
        names.setdefault(row["name"], set()).add(row["number"])
    return [(name, tuple(sorted(numbers))) for name, numbers in sorted(names.items())]


MUNICIPALITY_NAMES = _municipality_names()
LABELS = [(row["label"], row["code"]) for row in places.rows("offence_labels.csv")]
CATEGORIES = [(row["category"], row["code"]) for row in places.rows("citizen_categories.csv")]
ALIASES = [(row["alias"], row["law"]) for row in places.rows("laws.csv")]


def _report(**changes: Any) -> Report:
    body: dict[str, Any] = {
        "source": "s",
        "external_id": "x",
        "reported_at": "2026-11-30T10:00:00+01:00",
        "incident": {"occurred_from": "2026-11-30T09:00:00+01:00", "description": "d"},
        "offences": [{"code": "strl-321"}],
    }
    body.update(changes)
    return standardise(msgspec.convert(body, Report), REF, RECEIVED)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_every_municipality_name_in_every_form_finds_its_numbers(data: st.DataObject) -> None:
    name, numbers = data.draw(st.sampled_from(MUNICIPALITY_NAMES))
    assert tuple(sorted(REF.municipality_named(data.draw(spelled(name))))) == numbers
    if len(numbers) == 1:
        written = data.draw(spelled(name))
        incident = {"occurred_from": "2026-11-30T09:00:00+01:00", "description": "d"}
        out = _report(incident={**incident, "municipality_name": written})
        assert out.incident.municipality == numbers[0]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_municipality_name_with_the_word_kommune_finds_the_same(data: st.DataObject) -> None:
    name, numbers = data.draw(st.sampled_from(MUNICIPALITY_NAMES))
    written = data.draw(spelled(f"{name} kommune"))
    assert tuple(sorted(REF.municipality_named(written))) == numbers


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_every_label_and_form_category_in_every_form_finds_its_offence(
    data: st.DataObject,
) -> None:
    label, code = data.draw(st.sampled_from(LABELS + CATEGORIES))
    written = data.draw(spelled(label))
    out = _report(offences=[{"label": written}])
    assert [o.code for o in out.offences] == [code]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_law_name_in_every_form_is_read(data: st.DataObject) -> None:
    alias, law = data.draw(st.sampled_from(ALIASES))
    found = lawrefs.read(f"{data.draw(spelled(alias))} § 321", REF)
    assert found is not None
    assert found.code == f"{law}-321"


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_mapping_code_in_every_form_is_found(data: st.DataObject) -> None:
    patrol: PatrolMapping = load_mapping("patrol", PatrolMapping)
    agency: AgencyMapping = load_mapping("agency", AgencyMapping)
    tables: list[Mapping[str, object]] = [
        patrol.roles,
        patrol.markers,
        agency.roles,
        agency.law_references,
    ]
    table = data.draw(st.sampled_from(tables))
    key = data.draw(st.sampled_from(sorted(table)))
    assert table.get(name_key(data.draw(spelled(key)))) == table[key]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("A\u030alesund", "ålesund"),
        ("Sykkel\u200btyveri", "sykkeltyveri"),
        ("\u202bPorsáŋgu\u202c", "porsáŋgu"),
        ("  Nore \t og\u00a0 Uvdal\n", "nore og uvdal"),
        ("VÅLER", "våler"),
    ],
)
def test_the_name_key(text: str, key: str) -> None:
    assert name_key(text) == key
