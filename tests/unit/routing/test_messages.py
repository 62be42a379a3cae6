"""Messages about a rules or unit file quote the text as written, never a converted value or
Python syntax, and never contradict themselves; a name that is not known comes with the
known one meant where one is close (the new user's inputs, and siblings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import reference
from services.common.rules.reading import RulesError, suggestion
from services.common.rules.ruleset import load_ruleset

ROOT = Path(__file__).parents[3]
UNITS = ROOT / "deploy" / "routing" / "units.yaml"
HEAD = "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"


def refused(tmp_path: Path, text: str, units: Path = UNITS) -> RulesError:
    path = tmp_path / "rules.yaml"
    path.write_text(text, "utf-8")
    with pytest.raises(RulesError) as caught:
        load_ruleset(path, units, reference.load())
    return caught.value


def rule(when: str = "{flag: weapon}", then: str = "{priority: high}") -> str:
    return HEAD + f"  - id: a\n    when: {when}\n    then: {then}\n"


MESSAGES = {
    # the new user's
    "a quoted duration": (
        rule(then='{deadline: {hours: "12", from: report, basis: x}}'),
        6,
        '`hours: "12"` (quoted, so it is text) is not a whole number; write `hours: 12`',
    ),
    "a quoted version": (
        'version: "1"\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules: []\n',
        1,
        '`version: "1"` (quoted, so it is text): the only rules format is `version: 1`, a plain'
        " number",
    ),
    "a key twice in one flow mapping": (
        rule(when="{flag: weapon, flag: hate_motive}"),
        5,
        "key `flag` is given twice (line 5, columns 12 and 26)",
    ),
    "a list where true or false is wanted": (
        rule(when="{quality_issues: [person.age_unknown]}"),
        5,
        "`quality_issues: [person.age_unknown]` must be true or false (whether the report has"
        " any quality issue; a rule cannot name one)",
    ),
    "a district slug": (
        rule(when="{district: oslo}"),
        5,
        "unknown district `oslo` (did you mean `Oslo`?)",
    ),
    # siblings: other quoted numbers and booleans
    "a quoted clock time": (
        rule(then="{deadline: {hours: '1:30', from: report, basis: x}}"),
        6,
        "`hours: '1:30'` (quoted, so it is text) is not a whole number; write `minutes: 90`",
    ),
    "a quoted age": (
        rule(when='{person: {age_under: "18"}}'),
        5,
        '`age_under: "18"` (quoted, so it is text) must be a whole number 0-150',
    ),
    "a quoted flag": (
        rule(when="{person: {arrested: 'true'}}"),
        5,
        "`arrested: 'true'` (quoted, so it is text) must be true or false",
    ),
    "a quoted AMQP priority": (
        'version: 1\npriorities: {critical: "9", high: 7, normal: 4, low: 1}\nrules: []\n',
        2,
        '`critical: "9"` (quoted, so it is text): each priority needs an AMQP priority 0-9',
    ),
    "a missing AMQP priority": (
        "version: 1\npriorities: {critical: 9, high: 7, normal: 4}\nrules: []\n",
        2,
        "`priorities` has no `low`: each priority needs an AMQP priority 0-9",
    ),
    "a quoted negative duration": (
        rule(then='{deadline: {days: "-1", from: report, basis: x}}'),
        6,
        '`days: "-1"` (quoted, so it is text) is not a whole number; write a whole number of days',
    ),
    # siblings: names written another way
    "district names": (
        rule(when='{district: [Oslo, "sor-ost", more og romsdal, Bergen]}'),
        5,
        'unknown district `"sor-ost"` (did you mean `Sør-Øst`?), `more og romsdal` (did you'
        " mean `Møre og Romsdal`?), `Bergen`",
    ),
    "municipality names, old numbers and lost zeros": (
        rule(when='{municipality: [Oslo, 3024, "301", 9999]}'),
        5,
        # Bærum was 3024 in 2020-2023 and is 3201 since 2024 (SSB classification 131)
        "unknown municipality `Oslo` (did you mean `0301`?), `3024` (did you mean `3201`?),"
        ' `"301"` (did you mean `0301`?), `9999`',
    ),
    "an offence label for a code": (
        rule(when="{offence: {code: tyveri}}"),
        5,
        "unknown offence code `tyveri` (did you mean `strl-321`?)",
    ),
    "a role in capitals": (
        rule(when="{person: {role: Suspect}}"),
        5,
        "unknown role `Suspect` (did you mean `suspect`?)",
    ),
    "a misspelt flag": (
        rule(when="{flag: wepon}"),
        5,
        "unknown flag `wepon` (did you mean `weapon`?)",
    ),
    "an SSB group in lower case": (
        rule(when="{offence: {ssb_group: vold og mishandling}}"),
        5,
        "unknown SSB group `vold og mishandling` (did you mean `Vold og mishandling`?)",
    ),
    "a section name for its key": (
        rule(then="{section: Seksjon for barn og unge}"),
        6,
        "unknown section `Seksjon for barn og unge` (did you mean `barn-og-unge`?)",
    ),
    "a unit with the district's name": (
        rule(then="{unit: Oslo.vold-og-seksual}"),
        6,
        "unknown unit `Oslo.vold-og-seksual` (did you mean `oslo.vold-og-seksual`?)",
    ),
    "a priority in capitals": (
        rule(then="{priority: Critical}"),
        6,
        "unknown priority `Critical` (did you mean `critical`?)",
    ),
    "a misspelt moment": (
        rule(then="{deadline: {days: 1, from: arest, basis: x}}"),
        6,
        "`from: arest`: a deadline runs from one of report, incident, arrest (did you mean"
        " `arrest`?)",
    ),
}


@pytest.mark.parametrize(("text", "line", "message"), MESSAGES.values(), ids=MESSAGES.keys())
def test_the_message_quotes_the_text_as_written(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    error = refused(tmp_path, text)
    assert error.line == line
    assert error.reason == message


def test_a_unit_catalogue_names_the_district_meant(tmp_path: Path) -> None:
    units = tmp_path / "units.yaml"
    text = UNITS.read_text("utf-8")
    units.write_text(text.replace("  Sør-Øst: {", "  Sor-Ost: {"), "utf-8")
    error = refused(tmp_path, rule(), units)
    assert error.reason == "unknown police district `Sor-Ost` (did you mean `Sør-Øst`?)"
    # the section's name where its key is wanted
    named = "default: Felles enhet for etterforskning}"
    units.write_text(text.replace("default: felles-etterforskning}", named, 1))
    assert refused(tmp_path, rule(), units).reason == (
        "unknown section `Felles enhet for etterforskning` (did you mean `felles-etterforskning`?)"
    )


@pytest.mark.parametrize(
    ("text", "known", "hint"),
    [
        ("oslo", ["Oslo", "Øst"], " (did you mean `Oslo`?)"),
        ("ost", ["Oslo", "Øst"], " (did you mean `Øst`?)"),
        ("Oslo", ["Oslo"], ""),  # nothing to add to a known name
        ("Bergen", ["Oslo", "Øst"], ""),  # nothing close: no guess
        ("4602", ["4601", "4612"], ""),  # a number one digit away is another place
    ],
)
def test_a_suggestion_is_a_close_known_name_or_none(text: str, known: list[str], hint: str) -> None:
    assert suggestion(text, known) == hint
