"""`fsi-intake` as an operator starts it: a rules, unit catalogue or closure grounds file that
is missing or refused stops the start with one line naming the setting (and the file's
line), exit 78, before PostgreSQL is asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.broker_inputs import command

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
EXIT_CONFIG = 78  # sysexits.h EX_CONFIG (services/common/startup.py)
# PostgreSQL and RabbitMQ are never reached: a port nothing listens on proves it.
SETTINGS = {
    "FSI_DB_URL": "postgresql://fsi@127.0.0.1:9/fsi",
    "FSI_BROKER_URL": "amqp://guest:guest@127.0.0.1:9/",
    "FSI_ACCESS_CLIENTS_FILE": str(ROOT / "deploy" / "clients.dev.yaml"),
    "FSI_ENVIRONMENT": "development",
}


@pytest.mark.parametrize(
    "setting", ["FSI_RULES_FILE", "FSI_RULES_UNITS_FILE", "FSI_TRIAGE_CLOSURE_GROUNDS_FILE"]
)
async def test_a_missing_file_stops_the_intake_naming_its_setting(
    setting: str, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.yaml"
    answer = await command("fsi-intake", within=60, **SETTINGS, **{setting: str(missing)})
    assert answer.code == EXIT_CONFIG, answer.lines
    (line,) = answer.lines
    assert line.startswith("fsi-intake: "), line
    assert setting in line
    assert f"cannot read {missing}: No such file or directory" in line


async def test_a_refused_rules_file_stops_the_intake_naming_file_and_line(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"
        "  - {id: a, when: {flag: wepon}, then: {priority: high}}\n",
        "utf-8",
    )
    answer = await command("fsi-intake", within=60, **SETTINGS, FSI_RULES_FILE=str(rules))
    assert answer.code == EXIT_CONFIG, answer.lines
    assert answer.lines == [
        f"fsi-intake: FSI_RULES_FILE: {rules}:4: rule a: unknown flag `wepon` "
        "(did you mean `weapon`?)"
    ]


async def test_a_refused_grounds_file_stops_the_intake_naming_file_and_line(
    tmp_path: Path,
) -> None:
    grounds = tmp_path / "grounds.yaml"
    grounds.write_text("version: 1\ngrounds: []\n", "utf-8")
    answer = await command(
        "fsi-intake", within=60, **SETTINGS, FSI_TRIAGE_CLOSURE_GROUNDS_FILE=str(grounds)
    )
    assert answer.code == EXIT_CONFIG, answer.lines
    assert answer.lines == [
        f"fsi-intake: invalid setting FSI_TRIAGE_CLOSURE_GROUNDS_FILE: {grounds}:2: "
        "no grounds given"
    ]
