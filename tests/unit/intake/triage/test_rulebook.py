"""The intake's rule book: it decides as the router does, picks up a changed rules file (at
most once per interval), keeps its rules when a new file is refused, and offers units."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

import msgspec
import pytest
import structlog

from schemas import reference
from schemas.decision import Priority
from schemas.report import Report
from services.common.rules.engine import RoutingView, decide
from services.common.settings import RulesSettings, SettingsError
from services.common.standardise import Options, standardise
from services.intake.triage.rulebook import RuleBook
from services.routing.main import load_rules
from services.routing.settings import RoutingSettings

ROOT = Path(__file__).resolve().parents[4]
DEPLOY = ROOT / "deploy" / "routing"
EXAMPLES = sorted((ROOT / "schemas" / "examples").glob("report.*.json"))
NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
HEAD = "version: 1\npriorities: {critical: 9, high: 7, normal: 4, low: 1}\nrules:\n"


class Clock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def standard(data: Mapping[str, object]) -> Report:
    report = msgspec.convert(data, Report)
    return standardise(report, reference.load(), NOW, Options(accept_synthetic_ids=True))


def example(path: Path) -> Report:
    return standard(json.loads(path.read_text("utf-8")))


def copied(tmp_path: Path, rules: str | None = None) -> RulesSettings:
    """The checkout's rules and catalogue copied (or these rules), as settings naming them."""
    rules_file, units_file = tmp_path / "rules.yaml", tmp_path / "units.yaml"
    shutil.copy(DEPLOY / "units.yaml", units_file)
    if rules is None:
        shutil.copy(DEPLOY / "rules.yaml", rules_file)
    else:
        rules_file.write_text(HEAD + rules, "utf-8")
    return RulesSettings(file=str(rules_file), units_file=str(units_file))


def rewrite(path: Path, text: str) -> None:
    """New content whose size differs, so the change is seen whatever the clock's grain."""
    path.write_text(text, "utf-8")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_it_decides_as_the_router_does_on_the_examples(path: Path) -> None:
    book = RuleBook.open(RulesSettings())
    router_rules = load_rules(RoutingSettings())
    report = example(path)
    report_id = uuid.uuid4()
    ours = book.decide(report, report_id, NOW)
    # The router decides on the message's routing view of the same report.
    view = msgspec.json.decode(msgspec.json.encode(report), type=RoutingView)
    assert ours == decide(view, report_id, router_rules, NOW)
    assert ours.ruleset_version == router_rules.version == book.ruleset_version


def test_the_domestic_violence_example_goes_where_the_rules_say() -> None:
    # Municipality 5001 is Trondheim (Trøndelag police district); strl. § 282 is the rules'
    # `domestic-violence` rule (section vold-naere-relasjoner); the suspect was arrested, so
    # `custody-adult` makes it critical (AMQP 9 in the rules file's `priorities`).
    book = RuleBook.open(RulesSettings())
    decision = book.decide(
        example(ROOT / "schemas/examples/report.domestic-violence.json"), uuid.uuid4(), NOW
    )
    assert decision.unit == "trondelag.vold-naere-relasjoner"
    assert {"domestic-violence", "custody-adult"} <= set(decision.matched_rules)
    assert decision.priority == Priority.CRITICAL
    assert decision.amqp_priority == book.amqp_priority(Priority.CRITICAL) == 9


def test_amqp_priorities_are_the_rules_files() -> None:
    book = RuleBook.open(RulesSettings())
    levels = {p: book.amqp_priority(p) for p in Priority}
    assert levels == {Priority.CRITICAL: 9, Priority.HIGH: 7, Priority.NORMAL: 4, Priority.LOW: 1}


def test_a_changed_rules_file_is_used_after_the_interval_not_before(tmp_path: Path) -> None:
    settings = copied(tmp_path, "  - {id: a, when: {flag: weapon}, then: {priority: high}}\n")
    clock = Clock()
    book = RuleBook(settings, RuleBook.open(settings).ruleset, check_seconds=2.0, clock=clock)
    before = book.ruleset_version
    report = example(ROOT / "schemas/examples/report.youth-robbery.json")  # weapon: true
    assert book.decide(report, uuid.uuid4(), NOW).matched_rules == ["a"]
    rewrite(
        Path(settings.file), HEAD + "  - {id: b, when: {flag: weapon}, then: {priority: low}}\n"
    )
    clock.now += 1.9
    assert book.ruleset_version == before  # not looked at yet
    clock.now += 0.1
    assert book.ruleset_version != before
    assert book.decide(report, uuid.uuid4(), NOW).matched_rules == ["b"]


def test_a_refused_rules_file_keeps_the_running_rules_and_is_logged(tmp_path: Path) -> None:
    settings = copied(tmp_path, "  - {id: a, when: {flag: weapon}, then: {priority: high}}\n")
    book = RuleBook(settings, RuleBook.open(settings).ruleset, clock=Clock())
    before = book.ruleset_version
    rewrite(
        Path(settings.file), HEAD + "  - {id: a, when: {flag: wepon}, then: {priority: high}}\n"
    )
    with structlog.testing.capture_logs() as logs:
        assert book.refresh() is False
    assert book.ruleset_version == before
    (line,) = [e for e in logs if e["event"] == "rules refused; the running rules stay"]
    assert line["log_level"] == "error"
    assert f"{settings.file}:4: rule a: unknown flag `wepon`" in line["error"]
    # Not read again until it changes again; a good file then replaces the rules.
    assert book.refresh() is False
    rewrite(
        Path(settings.file), HEAD + "  - {id: c, when: {flag: weapon}, then: {priority: low}}\n"
    )
    assert book.refresh() is True
    assert book.ruleset_version != before


def test_a_changed_unit_catalogue_is_refused_until_a_restart(tmp_path: Path) -> None:
    settings = copied(tmp_path)
    book = RuleBook(settings, RuleBook.open(settings).ruleset, clock=Clock())
    units = Path(settings.units_file)
    rewrite(units, units.read_text("utf-8").replace("  okokrim: {name: Økokrim}\n", ""))
    with structlog.testing.capture_logs() as logs:
        assert book.refresh() is False
    assert "okokrim" in book.ruleset.catalogue.units
    assert "the unit catalogue changed" in logs[-1]["error"]


def test_a_missing_or_unset_rules_file_stops_the_start_naming_its_setting(tmp_path: Path) -> None:
    settings = copied(tmp_path)
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(SettingsError, match=f"^FSI_RULES_FILE: cannot read {missing}: No such"):
        RuleBook.open(RulesSettings(file=str(missing), units_file=settings.units_file))
    with pytest.raises(SettingsError, match=r"^FSI_RULES_UNITS_FILE: cannot read"):
        RuleBook.open(RulesSettings(file=settings.file, units_file=str(missing)))
    with pytest.raises(SettingsError, match="invalid setting FSI_RULES_FILE: required"):
        RuleBook.open(RulesSettings(file="", units_file=settings.units_file))
    rewrite(Path(settings.file), "version: 2\n")
    with pytest.raises(SettingsError, match=r"^FSI_RULES_FILE: .*rules.yaml:1: `version: 2`"):
        RuleBook.open(settings)


# A robbery (strl. § 327) with a knife in Oslo (0301) by a 16-year-old, reported by a patrol.
ROBBERY = {
    "source": "patrulje",
    "external_id": "PAT-1",
    "reported_at": "2026-11-26T23:10:00+01:00",
    "incident": {
        "occurred_from": "2026-11-26T22:50:00+01:00",
        "municipality": "0301",
        "description": "Ran med kniv.",
    },
    "offences": [{"code": "strl-327"}],
    "persons": [{"role": "suspect", "birth_date": "2010-04-02"}],
    "flags": {"weapon": True},
}
SUGGESTING = (
    # matches and decides: the suspect is under 18
    "  - {id: youth, when: {person: {role: suspect, age_under: 18}},"
    " then: {section: barn-og-unge}}\n"
    # one condition short (the offence), one held
    "  - {id: drugs, when: {offence: {code: strl-231}, flag: weapon},"
    " then: {section: organisert-kriminalitet}}\n"
    # one condition short (the source), two held: closer than `drugs`
    "  - {id: robbery, when: {offence: {code: strl-327}, flag: weapon,"
    " source: [politiet-nettanmeldelse]}, then: {section: vold-og-seksual}}\n"
    # one condition short, none held: a national unit
    "  - {id: fraud, when: {offence: {code: strl-371}}, then: {unit: okokrim}}\n"
    # two conditions short: not offered
    "  - {id: far, when: {offence: {code: strl-371}, flag: hate_motive},"
    " then: {section: digitalt-politiarbeid}}\n"
    # matches, names the district's default unit again: offered once
    "  - {id: knife, when: {flag: weapon}, then: {section: felles-etterforskning}}\n"
)


def test_suggested_units_come_in_order_and_once(tmp_path: Path) -> None:
    book = RuleBook.open(copied(tmp_path, SUGGESTING))
    report = standard(ROBBERY)
    assert book.decide(report, uuid.uuid4(), NOW).unit == "oslo.barn-og-unge"
    assert book.suggested_units(report, NOW) == [
        "oslo.barn-og-unge",  # the rules' unit
        "oslo.felles-etterforskning",  # Oslo's default section (and rule knife's)
        "oslo.vold-og-seksual",  # robbery: one short, two held
        "oslo.organisert-kriminalitet",  # drugs: one short, one held
        "okokrim",  # fraud: one short, none held
    ]


def test_explain_names_what_failed_for_each_rule(tmp_path: Path) -> None:
    book = RuleBook.open(copied(tmp_path, SUGGESTING))
    checks = {c.rule_id: c for c in book.explain(standard(ROBBERY), NOW)}
    assert list(checks) == ["youth", "drugs", "robbery", "fraud", "far", "knife"]
    assert checks["youth"].matched
    assert checks["knife"].matched
    assert [m.key for m in checks["robbery"].missed] == ["source"]
    assert checks["robbery"].missed[0].line == 6  # the rule's line: HEAD is 3 lines
    assert (checks["robbery"].held, checks["robbery"].unit) == (2, "oslo.vold-og-seksual")
    assert checks["far"].nearly is False
    assert [m.key for m in checks["far"].missed] == ["offence", "flag"]


def test_a_report_without_a_district_is_offered_only_units_rules_name(tmp_path: Path) -> None:
    book = RuleBook.open(copied(tmp_path, SUGGESTING))
    incident = {"occurred_from": "2026-11-26T22:50:00+01:00", "description": "Ran med kniv."}
    report = standard({**ROBBERY, "incident": incident})
    # No district: sections cannot be placed; the national unit of a near rule can.
    assert book.decide(report, uuid.uuid4(), NOW).unit == "triage"
    assert book.suggested_units(report, NOW) == ["okokrim"]


def test_units_exist_and_the_nearest_are_found() -> None:
    book = RuleBook.open(RulesSettings())
    assert book.unit_exists("kripos")
    assert book.unit_exists("oslo.barn-og-unge")
    assert not book.unit_exists("triage")
    assert not book.unit_exists("oslo.kripos")
    assert book.nearest_units("oslo.barn-og-ung")[0] == "oslo.barn-og-unge"
    assert book.nearest_units("Økokrim") == ["okokrim"]
    assert book.nearest_units("KRIPOS")[0] == "kripos"
    assert book.nearest_units("Oslo Seksjon for barn og unge")[0] == "oslo.barn-og-unge"
    assert book.nearest_units("Sør-Øst vold-og-seksual")[0] == "sor-ost.vold-og-seksual"
    assert book.nearest_units("qqqq") == []
    assert len(book.nearest_units("oslo.vold", limit=2)) <= 2


def test_district_slugs_are_the_catalogues() -> None:
    book = RuleBook.open(RulesSettings())
    assert book.district_slug("Sør-Øst") == "sor-ost"
    assert book.district_slug("Møre og Romsdal") == "more-og-romsdal"
    assert book.district_slug(None) is None
    assert book.district_slug("Kripos") is None
