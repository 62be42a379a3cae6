"""Decoding that names every problem with its JSON path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.report import Report
from schemas.sources import AgencyReport
from services.intake import batchbody
from services.intake.batch import BatchIn
from services.intake.validation import NotJson, Problem, decode

GOOD: dict[str, Any] = {
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
        "$.…",  # a key that is no field is not shown: it may be anything, an identity number
    ]


def test_list_length_and_item_problems_together() -> None:
    body = {**GOOD, "offences": [{"code": "a"}] * 20 + [{"code": 1}]}
    assert paths(body) == ["$.offences", "$.offences[20].code"]


def test_wrong_top_level_type() -> None:
    assert paths([GOOD]) == ["$"]


def test_renamed_fields_use_the_wire_names() -> None:
    assert "$.meldingsId" in paths({"avsender": {}}, AgencyReport)
    assert "$.avsender.organisasjonsnummer" in paths({"avsender": {}}, AgencyReport)


def test_nul_characters_are_refused_once_for_the_body() -> None:
    body = {
        **GOOD,
        "external_id": "a\u0000b",
        "incident": {**GOOD["incident"], "description": "\u0000"},
    }
    sent = json.dumps(body).encode()
    value, problems = decode(sent, Report)
    assert value is None
    (problem,) = problems
    assert problem.path == "$"
    assert problem.message.startswith("U+0000")
    first = sent.index(b"\\u0000")
    assert f"byte {first}" in problem.message


def test_nul_in_a_batch_item_is_placed_in_that_item() -> None:
    second = {**GOOD, "external_id": "x\u0000"}
    sent = json.dumps({"reports": [GOOD, second]}).encode()
    items = batchbody.items(sent, 10)
    _, problems = decode(items[1], Report)
    (problem,) = problems
    # Counted from the item's own first byte, as the item's problems are, and said so.
    at = items[1].index(b"\\u0000")
    assert f"at byte {at} of the report" in problem.message
    assert at < sent.index(b"\\u0000")


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


# --- bodies as real clients send them -------------------------------------------------------

REAL_INPUTS = Path(__file__).parents[2] / "data" / "real_inputs"
BOM = b"\xef\xbb\xbf"
REPEATED = "Object key given more than once (RFC 7493 section 2.3): send each key once"


def test_the_example_with_a_byte_order_mark_decodes_as_without() -> None:
    # RFC 8259 section 8.1: a parser may ignore a byte order mark; the example starts with one.
    sent = (REAL_INPUTS / "bom.json").read_bytes()
    assert sent.startswith(BOM)
    with_mark, problems = decode(sent, Report)
    assert problems == []
    assert with_mark == decode(sent[3:], Report)[0]


@pytest.mark.parametrize(
    ("tp", "body"),
    [(AgencyReport, {"meldingsId": "m"}), (Report, {**GOOD, "source": "UPPER"})],
    ids=["source format", "invalid report"],
)
def test_a_byte_order_mark_is_ignored_on_every_path(tp: type, body: object) -> None:
    plain = decode(json.dumps(body).encode(), tp)
    assert decode(BOM + json.dumps(body).encode(), tp) == plain
    assert plain[1]  # each has problems, found the same way


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (BOM + b'{"a" 1}', "JSON is malformed: expected ':' (byte 8)"),
        (
            b"\xff\xfe{\x00}\x00",
            "the body is UTF-16 (it starts with a UTF-16 byte order mark); send UTF-8",
        ),
        (BOM + BOM + b"{}", "JSON is malformed: invalid character (byte 3)"),
        (b" " + BOM + b"{}", "JSON is malformed: invalid character (byte 1)"),
    ],
    ids=["offset after a mark", "utf-16 mark", "two marks", "mark not first"],
)
def test_what_is_not_json_is_named_at_its_byte_in_the_body_as_sent(
    body: bytes, detail: str
) -> None:
    with pytest.raises(NotJson) as refused:
        decode(body, Report)
    assert str(refused.value) == detail


def test_the_example_with_a_key_given_twice_is_refused_naming_its_path() -> None:
    body = (REAL_INPUTS / "dupkeys.json").read_bytes()
    assert decode(body, Report) == (None, [Problem("$.source", REPEATED)])


def test_keys_given_twice_are_found_at_any_depth_and_unknown_names_withheld() -> None:
    body = (
        b'{"source": "s", "external_id": "x", "reported_at": "2026-01-01T10:00:00Z",'
        b' "incident": {"occurred_from": "2026-01-01T09:00:00", "description": "a",'
        b' "description": "b", "Kari Testesen": 1, "Kari Testesen": 2},'
        b' "offences": [{"code": "strl-321"}, {"label": "x", "label": "y", "label": "z"}],'
        b' "persons": [{"role": "victim", "nn": {"fnr": 1, "fnr": 2}}]}'
    )
    assert decode(body, Report) == (
        None,
        [
            Problem("$.incident.description", REPEATED),
            Problem("$.incident.…", REPEATED),
            Problem("$.offences[1].label", REPEATED),
            Problem("$.persons[0].….…", REPEATED),
        ],
    )


def test_a_key_given_twice_in_a_source_format_uses_its_wire_names() -> None:
    body = b'{"meldingsId": "1", "avsender": {"etat": "NAV", "etat": "Toll"}}'
    assert decode(body, AgencyReport) == (None, [Problem("$.avsender.etat", REPEATED)])


def test_a_batch_refuses_its_own_keys_given_twice_and_leaves_items_to_themselves() -> None:
    item = b'{"source": "s", "source": "t"}'
    own = decode(b'{"reports": [' + item + b'], "reports": []}', BatchIn)
    items_only, problems = decode(b'{"reports": [' + item + b", " + item + b"]}", BatchIn)
    assert own == (None, [Problem("$.reports", REPEATED)])
    assert problems == []
    assert items_only is not None
    assert [decode(bytes(raw), Report)[1] for raw in items_only.reports] == [
        [Problem("$.source", REPEATED)]
    ] * 2


def test_the_same_key_in_different_objects_is_no_repeat() -> None:
    body = {**GOOD, "offences": [{"code": "strl-321"}, {"code": "strl-322"}]}
    assert decode(json.dumps(body).encode(), Report)[1] == []
