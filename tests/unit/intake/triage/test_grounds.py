"""Closure grounds as configuration: the checkout's catalogue holds the grounds FACTS.md names
with their legal basis, and a file that cannot be used is refused naming its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.settings import SettingsError
from services.intake.settings import TriageSettings
from services.intake.triage import grounds
from services.intake.triage.grounds import GroundsFileError, load_grounds, read_grounds

GOOD = """\
version: 1
grounds:
  - code: no-offence
    name: {nb: Intet straffbart forhold, en: No criminal offence}
    basis: Forholdet er ikke straffbart.
  - code: under-age
    name: {nb: Under den kriminelle lavalder, en: Under the age of criminal responsibility}
    basis: Straffeloven § 20 første ledd bokstav a.
"""


def refused(text: str) -> str:
    with pytest.raises(GroundsFileError) as caught:
        read_grounds(text, "grounds.yaml")
    return str(caught.value)


def test_the_checkout_catalogue_holds_the_common_grounds_with_their_basis() -> None:
    catalogue = load_grounds(TriageSettings())
    assert [g.code for g in catalogue.grounds] == [
        "no-offence",
        "insufficient-evidence",
        "unknown-offender",
        "lack-of-capacity",
        "no-complaint",
        "under-age",
    ]
    capacity = catalogue.get("lack-of-capacity")
    assert capacity is not None
    assert "rundskriv nr. 3/2016" in capacity.basis
    under_age = catalogue.get("under-age")
    assert under_age is not None
    assert "straffeloven § 20" in under_age.basis
    assert "15 år" in under_age.basis
    evidence = catalogue.get("insufficient-evidence")
    assert evidence is not None
    assert evidence.name.nb == "Bevisets stilling"
    assert all(g.name.nb and g.name.en and g.basis for g in catalogue.grounds)
    assert catalogue.get("bevisets-stilling") is None


def test_a_ground_is_found_by_a_near_code_or_its_name() -> None:
    catalogue = read_grounds(GOOD, "grounds.yaml")
    assert catalogue.nearest("no-ofence") == ["no-offence"]
    assert catalogue.nearest("Intet straffbart forhold") == ["no-offence"]
    assert catalogue.nearest("under the age of criminal responsibility") == ["under-age"]
    assert catalogue.nearest("qqqq") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace("    basis: Forholdet", "    basiss: Forholdet"), "grounds.yaml:3: "),
        (
            GOOD.replace("code: under-age", "code: no-offence"),
            "grounds.yaml:6: code `no-offence` is given twice",
        ),
        (
            GOOD.replace("code: under-age", "code: Under_Age"),
            "grounds.yaml:6: code `Under_Age` must be",
        ),
        (
            GOOD.replace("basis: Straffeloven § 20 første ledd bokstav a.", "basis: ' '"),
            "grounds.yaml:6: ground under-age: `basis`",
        ),
        (
            GOOD.replace(", en: No criminal offence", ""),
            "grounds.yaml:4: $.grounds[0].name: Object missing required field `en`",
        ),
        (
            GOOD.replace("version: 1", "version: 2"),
            "grounds.yaml:1: $.version: Invalid enum value 2",
        ),
        ("version: 1\ngrounds: []\n", "grounds.yaml:2: no grounds given"),
        (GOOD.replace("  - code: under-age", "  - code: [under-age"), "grounds.yaml:"),
    ],
    ids=[
        "unknown key",
        "code twice",
        "code no slug",
        "empty basis",
        "no English name",
        "version",
        "none",
        "not YAML",
    ],
)
def test_a_file_that_cannot_be_used_is_refused_naming_its_line(text: str, expected: str) -> None:
    assert refused(text).startswith(expected), refused(text)


def test_an_unknown_key_is_named() -> None:
    assert "basiss" in refused(GOOD.replace("    basis: Forholdet", "    basiss: Forholdet"))


def test_the_setting_names_the_file_and_an_error_names_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "grounds.yaml"
    path.write_text(GOOD, "utf-8")
    assert len(load_grounds(TriageSettings(closure_grounds_file=str(path))).grounds) == 2
    path.write_text(GOOD.replace("code: under-age", "code: no-offence"), "utf-8")
    with pytest.raises(SettingsError) as caught:
        load_grounds(TriageSettings(closure_grounds_file=str(path)))
    assert str(caught.value) == (
        f"invalid setting FSI_TRIAGE_CLOSURE_GROUNDS_FILE: {path}:6: code `no-offence` is "
        "given twice"
    )
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(SettingsError, match=r"cannot read .*nowhere\.yaml: No such file"):
        load_grounds(TriageSettings(closure_grounds_file=str(missing)))


def test_without_a_checkout_the_setting_is_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grounds, "CHECKOUT_FILE", tmp_path / "absent.yaml")
    with pytest.raises(SettingsError, match="FSI_TRIAGE_CLOSURE_GROUNDS_FILE: required"):
        load_grounds(TriageSettings())
