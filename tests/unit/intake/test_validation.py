"""Decoding that names every problem with its JSON path."""

from __future__ import annotations

import json

import pytest

from schemas.report import Report
from schemas.sources import AgencyReport
from services.intake.validation import NotJson, decode

GOOD = {
    "source": "s",
    "external_id": "x",
    "reported_at": "2026-01-01T10:00:00+01:00",
    "incident": {"occurred_from": "2026-01-01T09:00:00", "description": "d"},
    "offences": [{"code": "strl-321"}],
}


def paths(body: object, tp: type = Report) -> list[str]:
    value, problems = decode(json.dumps(body).encode(), tp)
    assert value is None
    return [p.path for p in problems]


def test_valid_body_decodes() -> None:
    value, problems = decode(json.dumps(GOOD).encode(), Report)
    assert problems == []
    assert value is not None
    assert value.external_id == "x"


def test_every_problem_is_listed_in_order() -> None:
    body = {
        **GOOD,
        "source": "UPPER",
        "reported_at": 5,
        "incident": {"description": ""},
        "offences": [{"code": "a"}, {}, {"label": 3}],
        "persons": [{"role": "x"}, {"name": "n"}],
        "flags": {"weapon": "yes"},
        "extra": 1,
    }
    assert paths(body) == [
        "$.source",
        "$.reported_at",
        "$.incident.occurred_from",
        "$.incident.description",
        "$.offences[1]",
        "$.offences[2].label",
        "$.persons[0].role",
        "$.persons[1].role",
        "$.flags.weapon",
        "$.extra",
    ]


def test_list_length_and_item_problems_together() -> None:
    body = {**GOOD, "offences": [{"code": "a"}] * 20 + [{"code": 1}]}
    assert paths(body) == ["$.offences", "$.offences[20].code"]


def test_wrong_top_level_type() -> None:
    assert paths([GOOD]) == ["$"]


def test_renamed_fields_use_the_wire_names() -> None:
    assert "$.meldingsId" in paths({"avsender": {}}, AgencyReport)
    assert "$.avsender.organisasjonsnummer" in paths({"avsender": {}}, AgencyReport)


def test_nul_characters_are_refused_where_they_are() -> None:
    body = {
        **GOOD,
        "external_id": "a\u0000b",
        "incident": {**GOOD["incident"], "description": "\u0000"},
    }
    assert paths(body) == ["$.external_id", "$.incident.description"]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"nul",
        b'{"a": "\xff"}',
        b'"\\ud800"x',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"source": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
    ids=["empty", "open", "word", "latin1", "surrogate", "deep-array", "deep-field"],
)
def test_not_json(body: bytes) -> None:
    with pytest.raises(NotJson):
        decode(body, Report)


def test_a_plain_list_field_names_only_its_items() -> None:
    # quality_issues is a list without length constraints.
    body = {**GOOD, "quality_issues": [{"code": 1, "path": "$", "message": "m"}]}
    assert paths(body) == ["$.quality_issues[0].code"]
