"""Hypothesis strategies for structurally valid canonical reports."""

from __future__ import annotations

import datetime as dt
import re

import msgspec
from hypothesis import strategies as st

from schemas import reference
from schemas.report import TEXT, Flags, Report

REF = reference.load()

texts = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=40
).filter(lambda text: re.search(TEXT, text) is not None)
times = st.datetimes(dt.datetime(1901, 1, 1), dt.datetime(2026, 11, 1))
zones = st.sampled_from(
    [None, dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(dt.timedelta(hours=-7))]
)
municipalities = st.sampled_from([*sorted(REF.municipalities)[:50], "9998", None])
labels = st.sampled_from([*sorted(REF.offence_labels), "Sykkeltyveri", "noe ukjent"]) | texts
orgnrs = st.sampled_from(["974760673", "974 760 673", "974760674", "123456789"])
offence_codes = st.sampled_from([*sorted(REF.offences), "strl. 321", "straffeloven § 282", "x"])


@st.composite
def reports(draw: st.DrawFn, source: str = "prop") -> Report:
    """Valid reports with awkward text, mixed time zones and some soft problems."""
    start = draw(times).replace(tzinfo=draw(zones))
    lasted = draw(st.none() | st.integers(0, 72).map(lambda h: dt.timedelta(hours=h)))
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
                    "arrested_at": st.just((start + dt.timedelta(minutes=30)).isoformat()),
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
                **({"occurred_to": (start + lasted).isoformat()} if lasted is not None else {}),
                **({"address": draw(texts)} if draw(st.booleans()) else {}),
            },
            "offences": [{"code": c} for c in draw(st.lists(offence_codes, min_size=1, max_size=3))]
            + [{"label": label} for label in draw(st.lists(labels, max_size=2))],
            "flags": draw(
                st.fixed_dictionaries(
                    {}, optional={name: st.booleans() for name in Flags.__struct_fields__}
                )
            ),
            **({"reporter_org": draw(orgnrs)} if draw(st.booleans()) else {}),
            "persons": persons,
        },
        Report,
    )
