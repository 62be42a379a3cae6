"""Strict YAML: a plain value means what it says; every refusal names the file and line.

The readings below are YAML 1.1's (PyYAML's `safe_load`) where the text as written says
something else: `1:30` is sexagesimal 90, `0301` octal 193, `no` false, `2026-11-27` a
date (YAML 1.1 type repository, yaml.org/type/int.html, bool.html, timestamp.html).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from schemas.report import Report, Role
from services.common import yamltext
from services.common.yamltext import Located, LocatedList, YamlTextError
from services.intake.adapters import shared
from services.intake.adapters.patrol import PatrolMapping

ROOT = Path(__file__).parents[3]


@pytest.mark.parametrize(
    ("written", "yaml_1_1", "strict"),
    [
        ("1:30", 90, "1:30"),
        ("0301", 193, "0301"),
        ("0o17", "0o17", "0o17"),  # PyYAML keeps this one as text already
        ("0x1F", 31, "0x1F"),
        ("1_000", 1000, "1_000"),
        ("no", False, "no"),
        ("yes", True, "yes"),
        ("on", True, "on"),
        ("off", False, "off"),
        ("y", "y", "y"),
        ("True", True, "True"),
        ("+5", 5, "+5"),
        ("-0", 0, "-0"),
        ("1.5", 1.5, "1.5"),
        (".inf", float("inf"), ".inf"),
        ("2026-11-27", "date", "2026-11-27"),
        ("2026-11-27 12:00:00", "datetime", "2026-11-27 12:00:00"),
        ("7", 7, 7),
        ("-12", -12, -12),
        ("0", 0, 0),
        ("true", True, True),
        ("false", False, False),
        ("null", None, None),
        ("~", None, None),
        ("", None, None),
    ],
)
def test_plain_values_mean_what_they_say(written: str, yaml_1_1: Any, strict: Any) -> None:
    old = yaml.safe_load(f"v: {written}")["v"]
    if yaml_1_1 in {"date", "datetime"}:
        assert type(old).__name__ == yaml_1_1
    else:
        assert old == yaml_1_1
    new = yamltext.load(f"v: {written}", "f.yaml")["v"]
    assert new == strict
    assert type(new) is type(strict)
    if new is not None:
        assert yamltext.written(new) == written  # what error messages quote


def test_fractions_only_where_the_file_asks_for_them() -> None:
    assert yamltext.load("rate: 0.5", "f.yaml") == {"rate": "0.5"}
    assert yamltext.load("rate: 0.5", "f.yaml", floats=True) == {"rate": 0.5}
    assert yamltext.load("rate: 1:30", "f.yaml", floats=True) == {"rate": "1:30"}


def test_keys_are_text_as_written_and_lines_are_kept() -> None:
    document = yamltext.load("a: 1\nno: [x,\n  y]\n0301: z\n7: w\n", "f.yaml")
    assert list(document) == ["a", "no", "0301", "7"]
    assert isinstance(document, Located)
    assert document.key_lines == {"a": 1, "no": 2, "0301": 4, "7": 5}
    assert isinstance(document["no"], LocatedList)
    assert document["no"].item_lines == [2, 3]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a: 1\nb: 2\na: 3\n", 3, "key `a` is given twice (lines 1 and 3)"),
        ("a: &x 1\nb: *x\n", 2, "aliases are not allowed"),
        ("a: !!str 0301\n", 1, "tags (tag:yaml.org,2002:str) are not allowed"),
        ("a: 0301\n<<: {b: 1}\n", None, None),  # a merge key is a plain key here
        ("a: " + "9" * 70 + "\n", 1, "a whole number of 70 digits is too long"),
        ("a: [1,\n", 2, "expected"),
        ("a: b\x00\n", 1, "U+0000"),
        ("[" * 100 + "]" * 100, 1, "nested more than 64 levels deep"),
        ("? [a]\n: b\n", 1, "a key must be a plain text"),
    ],
)
def test_refusals_name_the_line(text: str, line: int | None, words: str | None) -> None:
    if words is None:
        assert yamltext.load(text, "f.yaml") == {"a": "0301", "<<": {"b": 1}}
        return
    with pytest.raises(YamlTextError) as caught:
        yamltext.load(text, "f.yaml")
    assert (caught.value.file, caught.value.line) == ("f.yaml", line)
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"f.yaml:{line}: ")


def test_files_too_large_or_not_utf8_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("a: 1\n" * 10, "utf-8")
    with pytest.raises(YamlTextError, match=r"big.yaml:\d+: larger than 20 bytes"):
        yamltext.load_file(big, limit=20)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("a: 1\nb: kjøring\n".encode("latin-1"))
    with pytest.raises(YamlTextError, match=r"latin.yaml:2: not UTF-8 text \(byte 0xf8\)"):
        yamltext.load_file(latin)
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbfa: 0301\n")
    assert yamltext.load_file(bom) == {"a": "0301"}


class Entry(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    count: int = 0
    codes: list[str] = []
    names: dict[str, str] = {}
    maybe: str | None = None


def test_numbers_and_booleans_are_text_where_only_text_is_expected() -> None:
    document = yamltext.load(
        "code: 5003\ncount: 3\ncodes: [0301, 301, no, true]\nnames: {F: 1, M: false}\nmaybe: 12\n",
        "f.yaml",
    )
    entry = yamltext.convert(document, Entry, "f.yaml")
    assert entry == Entry("5003", 3, ["0301", "301", "no", "true"], {"F": "1", "M": "false"}, "12")


def test_a_report_written_in_yaml_keeps_its_codes_as_written() -> None:
    document = yamltext.load(
        "source: rules-test\nexternal_id: 12345\nreported_at: 2026-11-27 10:00:00\n"
        "incident: {occurred_from: 2026-11-26T22:00:00+01:00, municipality: 0301,"
        " postal_code: 5003, description: no}\n"
        "offences: [{code: strl-321}]\npersons: [{role: suspect, phone: 98765432}]\n",
        "f.yaml",
    )
    report = yamltext.convert(document, Report, "f.yaml")
    assert (report.external_id, report.incident.municipality) == ("12345", "0301")
    assert (report.incident.postal_code, report.incident.description) == ("5003", "no")
    assert report.persons[0].phone == "98765432"


def test_a_value_of_the_wrong_kind_is_quoted_as_written_with_its_line() -> None:
    document = yamltext.load("code: a\ncount: 1:30\n", "f.yaml")
    with pytest.raises(YamlTextError) as caught:
        yamltext.convert(document, Entry, "f.yaml")
    assert str(caught.value) == ("f.yaml:2: $.count: Expected `int`, got `str` (written `1:30`)")
    missing = yamltext.load("- count: 1\n- code: b\n  colour: red\n", "f.yaml")
    with pytest.raises(YamlTextError) as caught:
        yamltext.convert(missing, list[Entry], "f.yaml")
    assert str(caught.value) == "f.yaml:1: $[0]: Object missing required field `code`"


def test_the_source_mappings_are_read_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # YAML 1.1 reads the marker `ON` and the role code `N` ... `NO` as booleans
    (tmp_path / "patrol.yaml").write_text(
        "source: patrulje\nroles: {NO: victim, 0301: suspect}\nmarkers: {ON: weapon}\n", "utf-8"
    )
    monkeypatch.setattr(shared, "MAPPINGS", tmp_path)
    mapping = shared.load_mapping.__wrapped__("patrol", PatrolMapping)
    # keys are texts (however the adapter then folds them for look-ups), not booleans
    assert sorted(mapping.roles.values()) == [Role.SUSPECT, Role.VICTIM]
    assert all(isinstance(key, str) for key in [*mapping.roles, *mapping.markers])
    assert {key.casefold() for key in mapping.roles} == {"no", "0301"}
    assert list(mapping.markers.values()) == ["weapon"]
    (tmp_path / "patrol.yaml").write_text("source: patrulje\nroles: {F: boss}\nmarkers: {}\n")
    with pytest.raises(YamlTextError) as caught:
        shared.load_mapping.__wrapped__("patrol", PatrolMapping)
    assert str(caught.value) == ("patrol.yaml:2: $.roles[...]: Invalid enum value 'boss'")


@pytest.mark.parametrize(
    "path",
    [
        "deploy/routing/rules.yaml",
        "deploy/routing/rules.test.yaml",
        "deploy/routing/units.yaml",
        "deploy/clients.dev.yaml",
        "services/intake/mappings/citizen.yaml",
        "services/intake/mappings/patrol.yaml",
        "services/intake/mappings/agency.yaml",
    ],
)
def test_every_shipped_file_reads_strictly(path: str) -> None:
    document = yamltext.load_file(ROOT / path, floats=True)
    assert isinstance(document, Located)


# --- quoted values, keys given twice on one line, times (the new user's inputs) -------------


def test_a_quoted_value_is_text_and_its_container_knows_how_it_was_written() -> None:
    document = yamltext.load(
        "hours: \"12\"\nversion: '1'\nplain: 12\nlist: [\"0301\", 0301, 'a''b']\n", "f.yaml"
    )
    assert document == {"hours": "12", "version": "1", "plain": 12, "list": ["0301", "0301", "a'b"]}
    assert yamltext.written_in(document, "hours") == '"12"'
    assert yamltext.written_in(document, "version") == "'1'"
    assert yamltext.written_in(document, "plain") == "12"
    assert yamltext.is_quoted(document, "hours")
    assert not yamltext.is_quoted(document, "plain")
    assert [yamltext.written_in(document["list"], i) for i in range(3)] == [
        '"0301"',
        "0301",
        "'a''b'",
    ]


def test_a_list_or_mapping_is_written_as_yaml_not_as_python() -> None:
    document = yamltext.load(
        "a: [person.age_unknown]\nb: {x: 'y', z: [1, no]}\nc: [\"q\"]\n", "f.yaml"
    )
    assert yamltext.written(document["a"]) == "[person.age_unknown]"  # not ['person.age_unknown']
    assert yamltext.written(document["b"]) == "{x: 'y', z: [1, no]}"
    assert yamltext.written_in(document, "c") == '["q"]'


def test_a_quoted_value_over_lines_is_shown_short_and_on_one_line() -> None:
    document = yamltext.load('a: "x\n  y"\nb: "' + "z" * 90 + '"\n', "f.yaml")
    assert yamltext.written_in(document, "a") == '"x y"'
    assert yamltext.written_in(document, "b") == '"' + "z" * 40 + '…"'


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        # the new user's flow mapping: one line, so the columns tell the two keys apart
        (
            "a:\n  b: {flag: x, flag: y}\n",
            2,
            "key `flag` is given twice (line 2, columns 7 and 16)",
        ),
        ("- {a: 1, b: 2, a: 3}\n", 1, "key `a` is given twice (line 1, columns 4 and 16)"),
        ("a: {b: 1,\n    b: 2}\n", 2, "key `b` is given twice (lines 1 and 2)"),
    ],
)
def test_a_key_given_twice_is_placed_by_column_on_one_line(
    text: str, line: int, words: str
) -> None:
    with pytest.raises(YamlTextError) as caught:
        yamltext.load(text, "f.yaml")
    assert caught.value.line == line
    assert caught.value.problem == words


class Timed(msgspec.Struct, forbid_unknown_fields=True):
    at: dt.datetime
    maybe: dt.datetime | None = None


@pytest.mark.parametrize(
    ("written", "read"),
    [
        # ISO 8601 as people type it: a space or T, with or without seconds; no offset: naive
        ("2026-11-27 10:00", dt.datetime(2026, 11, 27, 10, 0)),
        ("2026-11-27T10:00", dt.datetime(2026, 11, 27, 10, 0)),
        ("2026-11-27 10:00:00", dt.datetime(2026, 11, 27, 10, 0)),
        ("2026-11-27", dt.datetime(2026, 11, 27)),
        ("2026-11-27T10:00:00+01:00", dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)),
        ("2026-11-27T09:00:00Z", dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)),
        ("'2026-11-27T09:00:00Z'", dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)),
        # RFC 3339 forms beyond ISO's reading in Python: a lower-case t, nanoseconds
        ("2026-11-27t09:00:00.123456789z", dt.datetime(2026, 11, 27, 9, 0, 0, 123457, dt.UTC)),
    ],
)
def test_a_time_is_read_where_the_type_asks_for_one(written: str, read: dt.datetime) -> None:
    timed = yamltext.convert(yamltext.load(f"at: {written}\n", "f.yaml"), Timed, "f.yaml")
    assert timed.at == read
    assert (timed.at.tzinfo is None) == (read.tzinfo is None)


def test_a_time_that_is_no_time_is_named_with_its_path_and_line() -> None:
    document = yamltext.load("at: 2026-11-27 10:00\nmaybe: tomorrow\n", "f.yaml")
    with pytest.raises(YamlTextError) as caught:
        yamltext.convert(document, Timed, "f.yaml")
    assert str(caught.value) == (
        "f.yaml:2: $.maybe: `tomorrow` is not a date or time (write 2026-11-30T10:05:00+01:00)"
    )
    assert document["maybe"] == "tomorrow"  # the document is left as it was read


def test_a_quoted_value_of_the_wrong_kind_is_quoted_with_its_quotes() -> None:
    document = yamltext.load('code: a\ncount: "3"\n', "f.yaml")
    with pytest.raises(YamlTextError) as caught:
        yamltext.convert(document, Entry, "f.yaml")
    assert str(caught.value) == 'f.yaml:2: $.count: Expected `int`, got `str` (written `"3"`)'
