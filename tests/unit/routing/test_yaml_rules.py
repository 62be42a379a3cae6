"""Rule and unit files read as written: values YAML 1.1 would turn into other values are
text, a duration is a plain whole number, and every message quotes the text as written."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import msgspec
import pytest

from schemas import reference
from schemas.report import Report
from services.common.rules.engine import decide
from services.common.rules.reading import WrongTypeError
from services.common.rules.ruleset import load_ruleset
from tests.support.rule_files import load, refused

ROOT = Path(__file__).parents[3]
UNITS = ROOT / "deploy" / "routing" / "units.yaml"
EXAMPLE = ROOT / "tests" / "data" / "real_inputs" / "rules-sexagesimal.yaml"
REF = reference.load()
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
REPORT = (
    '{"source": "s", "external_id": "x", "reported_at": "2026-11-27T10:00:00+01:00",'
    ' "incident": {"occurred_from": "2026-11-26T22:00:00+01:00", "description": "d",'
    ' "municipality": "MUNICIPALITY"}, "offences": [{"code": "strl-321"}]}'
)


def test_the_example_duration_in_clock_form_is_refused_with_the_fix() -> None:
    # YAML 1.1 reads `hours: 1:30` as 90 hours: the 1 h 30 min deadline silently became 90 h.
    with pytest.raises(WrongTypeError) as caught:
        load_ruleset(EXAMPLE, UNITS, REF)
    assert str(caught.value) == (
        f"{EXAMPLE}:31: rule custody-adult-short: "
        "`hours: 1:30` is not a whole number; write `minutes: 90`"
    )


@pytest.mark.parametrize(
    ("duration", "message"),
    [
        ("hours: 1:30", "`hours: 1:30` is not a whole number; write `minutes: 90`"),
        ("hours: 1.5", "`hours: 1.5` is not a whole number; write `minutes: 90`"),
        ("weeks: 0.5", "`weeks: 0.5` is not a whole number; write `hours: 84`"),
        ("days: 010", "`days: 010` is not a whole number; write `days: 10`"),  # 1.1: 8
        ("hours: 0x10", "`hours: 0x10` is not a whole number; write a whole number of hours"),
        ("days: 1_0", "`days: 1_0` is not a whole number; write a whole number of days"),
        ("minutes: 1:30", "`minutes: 1:30` is not a whole number; write a whole number of minutes"),
        ("days: no", "`days: no` is not a whole number; write a whole number of days"),
        ("days: -3", "`days: -3` is negative"),
    ],
)
def test_a_duration_is_a_plain_whole_number(tmp_path: Path, duration: str, message: str) -> None:
    error = refused(
        tmp_path,
        "  - id: a\n    when: {flag: weapon}\n    then:\n"
        f"      deadline:\n        {duration}\n        basis: x\n",
    )
    assert (error.line, error.rule, error.reason) == (8, "a", message)


def test_a_whole_number_duration_still_reads(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        "  - id: a\n    when: {flag: weapon}\n    then:\n"
        "      deadline: {minutes: 90, from: report, basis: x, met_by: [closed]}\n",
    )
    deadline = ruleset.rules[0].deadline
    assert deadline is not None
    assert deadline.after == dt.timedelta(minutes=90)


def test_municipality_codes_are_text_whether_or_not_they_start_with_zero(tmp_path: Path) -> None:
    # YAML 1.1: `0301` is octal 193 ("unknown municipality: 193"); a plain `5001` was kept as
    # a number, so the rule index never offered the rule to a report from 5001 Trondheim.
    ruleset = load(
        tmp_path,
        "  - id: oslo-or-trondheim\n    when: {municipality: [0301, 5001]}\n"
        "    then: {priority: high}\n"
        "  - id: trondheim\n    when: {municipality: 5001}\n    then: {priority: high}\n",
    )
    assert ruleset.index.masks["municipality"].keys() == {"0301", "5001"}
    for municipality, matched in (
        ("0301", ["oslo-or-trondheim"]),
        ("5001", ["oslo-or-trondheim", "trondheim"]),
    ):
        report = REPORT.replace("MUNICIPALITY", municipality)
        decision = decide(msgspec.json.decode(report, type=Report), uuid.uuid4(), ruleset, NOW)
        assert decision.matched_rules == matched


def test_words_yaml_1_1_takes_for_booleans_are_text(tmp_path: Path) -> None:
    # YAML 1.1: `id: no` is false ("every rule needs an id"), `source: [on]` is true
    ruleset = load(
        tmp_path,
        "  - id: no\n    when: {source: [on, off, yes, y]}\n    then: {priority: high}\n"
        "  - id: 7\n    when: {flag: weapon}\n    then: {priority: low}\n",
    )
    assert [r.id for r in ruleset.rules] == ["no", "7"]
    assert ruleset.index.masks["source"].keys() == {"on", "off", "yes", "y"}


@pytest.mark.parametrize(
    ("rules", "line", "message"),
    [
        (
            "  - id: a\n    when: {person: {age_under: 0150}}\n    then: {priority: high}\n",
            5,
            "`age_under: 0150` must be a whole number 0-150",
        ),
        (
            "  - id: a\n    when: {person: {arrested: yes}}\n    then: {priority: high}\n",
            5,
            "`arrested: yes` must be true or false",
        ),
        (
            "  - id: a\n    when: {quality_issues: on}\n    then: {priority: high}\n",
            5,
            "`quality_issues: on` must be true or false",
        ),
        (
            "  - id: a\n    when: {municipality: [0301, 301]}\n    then: {priority: high}\n",
            5,
            "unknown municipality `301` (did you mean `0301`?)",
        ),
        (
            "  - id: a\n    when: {flag: weapon}\n    then: {priority: 2026-11-27}\n",
            6,
            "unknown priority `2026-11-27`",
        ),
        (
            "  - id: true\n    when: {flag: weapon}\n    then: {priority: high}\n",
            4,
            "every rule needs an `id` (a text), not `true`",
        ),
        (
            "  - id: a\n    when: {person: {age_known: false, age_under: 18}}\n"
            "    then: {priority: high}\n",
            5,
            "`age_known: false` with `age_under` or `age_at_least` never holds",
        ),
    ],
)
def test_messages_quote_the_text_as_written(
    tmp_path: Path, rules: str, line: int, message: str
) -> None:
    error = refused(tmp_path, rules)
    assert error.line == line
    assert message in error.reason


def test_the_priorities_and_version_are_quoted_as_written(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "version: 1\npriorities: {critical: 09, high: 7, normal: 4, low: 1}\nrules: []\n", "utf-8"
    )
    with pytest.raises(WrongTypeError, match="`critical: 09`: each priority needs an AMQP"):
        load_ruleset(path, UNITS, REF)
    path.write_text("version: 1.0\n", "utf-8")
    with pytest.raises(WrongTypeError, match=r"rules.yaml:1: `version: 1.0`: the only rules"):
        load_ruleset(path, UNITS, REF)


def test_unit_catalogue_values_are_read_as_written(tmp_path: Path) -> None:
    units = tmp_path / "units.yaml"
    text = UNITS.read_text("utf-8").replace("{slug: oslo,", "{slug: no,")
    units.write_text(text, "utf-8")
    with pytest.raises(WrongTypeError) as refused:
        load(tmp_path, "  - id: a\n    when: {flag: weapon}\n    then: {priority: high}\n", units)
    # The slug as written (YAML 1.1 would read `no` as False).
    assert "the slug of district Oslo must be `oslo`, not `no`" in str(refused.value)
    text = UNITS.read_text("utf-8")
    units.write_text(text.replace("{slug: oslo, default: felles-etterforskning}", "{slug: oslo}"))
    with pytest.raises(WrongTypeError) as caught:
        load(tmp_path, "  - id: a\n    when: {flag: weapon}\n    then: {priority: high}\n", units)
    assert "the `default` section of district Oslo must be a text, not `null`" in str(caught.value)
    assert (
        caught.value.line
        == text.splitlines().index("  Oslo: {slug: oslo, default: felles-etterforskning}") + 1
    )
