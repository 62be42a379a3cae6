"""Hypothesis strategies for structurally valid canonical reports."""

from __future__ import annotations

import datetime as dt
import re

import msgspec
from hypothesis import strategies as st

from schemas import reference
from schemas.report import TEXT, Report

REF = reference.load()

texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40
).filter(lambda text: re.search(TEXT, text) is not None)
times = st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2026, 11, 1))
zones = st.sampled_from(
    [None, dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-7))]
)
municipalities = st.sampled_from([*sorted(REF.municipalities)[:50], "9998", None])
offence_codes = st.sampled_from([*sorted(REF.offences), "strl. 321", "straffeloven § 282", "x"])


@st.composite
def reports(draw: st.DrawFn, source: str = "prop") -> Report:
    """Valid reports with awkward text, mixed time zones and some soft problems."""
    start = draw(times).replace(tzinfo=draw(zones))
    persons = draw(
        st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["victim", "suspect", "witness", "reporter"])},
                optional={
                    "name": texts,
                    "birth_date": st.dates(dt.date(1930, 1, 1), dt.date(2020, 1, 1)).map(str),
                    "national_id": st.from_regex(r"\A[0-9]{11}\Z")
                    | st.from_regex(r"\A ?[0-9 ]{1,14}[0-9]\Z"),
                    "phone": st.from_regex(r"\A[+]?[0-9 ]{1,15}[0-9]\Z"),
                },
            ),
            max_size=4,
        )
    )
    return msgspec.convert(
        {
            "source": source,
            "external_id": draw(texts),
            "reported_at": (start + dt.timedelta(hours=1)).isoformat(),
            "incident": {
                "occurred_from": start.isoformat(),
                "description": draw(texts),
                "municipality": draw(municipalities),
            },
            "offences": [
                {"code": c} for c in draw(st.lists(offence_codes, min_size=1, max_size=3))
            ],
            "persons": persons,
        },
        Report,
    )
