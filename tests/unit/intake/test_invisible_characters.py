"""Invisible characters (Unicode Cf) in what the intake keeps: one-line texts lose them, as the
name key does; an account keeps what was written; an identifier is never changed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.report import Report
from services.common.standardise import Options, standardise

REF = reference.load()
RECEIVED = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
ZWSP, SOFT_HYPHEN, ZWJ, RLM, WORD_JOINER = "\u200b", "\u00ad", "\u200d", "\u200f", "\u2060"
# A family emoji is three emoji joined by zero-width joiners: the joiners are the text.
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"


def report(**changes: Any) -> Report:
    body: dict[str, Any] = {
        "source": "s",
        "external_id": "x",
        "reported_at": "2026-11-30T10:00:00+01:00",
        "incident": {"occurred_from": "2026-11-30T09:00:00+01:00", "description": "d"},
        "offences": [{"code": "strl-321"}],
    }
    for key, value in changes.items():
        body[key] = body[key] | value if isinstance(value, dict) else value
    raw = msgspec.convert(body, Report)
    return standardise(raw, REF, RECEIVED, Options(accept_synthetic_ids=True))


def test_municipality_name_and_label_lose_invisible_characters() -> None:
    out = report(
        incident={"municipality_name": "Ber\u200bgen"},
        offences=[{"label": "Innbrudd i bil\u200b"}],
    )
    assert out.incident.municipality_name == "Bergen"
    assert out.incident.municipality == "4601"
    assert [(o.code, o.label) for o in out.offences] == [("strl-321", "Innbrudd i bil")]


@pytest.mark.parametrize("invisible", [ZWSP, SOFT_HYPHEN, RLM, WORD_JOINER, "\ufeff"])
def test_every_one_line_text_loses_them(invisible: str) -> None:
    out = report(
        incident={
            "municipality_name": f"Å{invisible}lesund",
            "address": f"Bryggen{invisible} 5",
        },
        offences=[{"code": f"strl{invisible}. 321", "label": f"Tyve{invisible}ri"}],
        persons=[
            {
                "role": "victim",
                "name": f"Kari{invisible} Testesen",
                "national_id": f"248690{invisible}23120",
                "phone": f"912{invisible} 34 567",
            }
        ],
    )
    assert out.incident.municipality_name == "Ålesund"
    assert out.incident.address == "Bryggen 5"
    assert [(o.code, o.label) for o in out.offences] == [("strl-321", "Tyveri")]
    (person,) = out.persons
    assert (person.name, person.national_id, person.phone) == (
        "Kari Testesen",
        "24869023120",
        "+4791234567",
    )
    assert out.quality_issues == []


def test_a_one_line_text_of_only_invisible_characters_is_not_given() -> None:
    out = report(
        incident={"municipality_name": ZWSP, "address": SOFT_HYPHEN},
        persons=[{"role": "witness", "name": ZWSP + RLM, "phone": WORD_JOINER}],
    )
    assert (out.incident.municipality_name, out.incident.address) == (None, None)
    assert (out.persons[0].name, out.persons[0].phone) == (None, None)
    assert out.quality_issues == []


def test_a_label_of_only_invisible_characters_is_named_not_refused() -> None:
    out = report(offences=[{"label": ZWSP}])
    assert [(q.code, q.path) for q in out.quality_issues] == [
        ("offence.unknown_label", "$.offences[0].label")
    ]


def test_an_account_keeps_what_was_written_and_an_identifier_is_never_changed() -> None:
    out = report(
        external_id=f"REF{ZWSP}-1",
        incident={"description": f"Hele familien {FAMILY} var hjemme.\u00ad"},
    )
    assert out.external_id == f"REF{ZWSP}-1"  # others match on it as they sent it
    assert out.incident.description == f"Hele familien {FAMILY} var hjemme.\u00ad"
