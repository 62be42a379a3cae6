"""A deadline names the case events that meet it (`met_by`): read, checked and decided with."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from schemas import reference
from schemas.caseevents import MEETING_KINDS, CaseEventKind
from schemas.decision import Deadline, Decision
from services.common.rules import meeting
from services.common.rules.engine import decide
from services.common.rules.reading import UnknownReferenceError, WrongTypeError
from services.common.rules.ruleset import load_ruleset
from services.routing.cli import main
from tests.support.reports import standardised_report
from tests.support.rule_files import HEAD, load, refused

ROOT = Path(__file__).parents[3]
UNITS = ROOT / "deploy" / "routing" / "units.yaml"
RULES = ROOT / "deploy" / "routing" / "rules.yaml"
REF = reference.load()
DEFAULT = load_ruleset(RULES, UNITS, REF)
ALLOWED = "allowed: brought_before_court, closed, interview_held, prosecution_decision, released"
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
K = CaseEventKind


def rule(deadline: str) -> str:
    """One rule whose `deadline:` (block style) is on line 7, with `deadline` (its `met_by`)
    from line 11 on."""
    return (
        "  - id: weapon-target\n    when: {flag: weapon}\n    then:\n      deadline:\n"
        "        days: 3\n        from: report\n        basis: a local target\n" + deadline
    )


# --- the default rules -----------------------------------------------------------------------

EXPECTED = {
    # strpl. § 183: brought before the court, or set free first
    "custody-adult": (K.BROUGHT_BEFORE_COURT, K.RELEASED),
    "custody-youth": (K.BROUGHT_BEFORE_COURT, K.RELEASED),
    "custody-age-unknown": (K.BROUGHT_BEFORE_COURT, K.RELEASED),
    # the 130-day target: decided or closed
    "rape": (K.PROSECUTION_DECISION, K.CLOSED),
    # forskrift 24.09.2015 nr. 1098: the interview held
    "barnehus-recent": (K.INTERVIEW_HELD,),
    "barnehus-under-6": (K.INTERVIEW_HELD,),
    "barnehus": (K.INTERVIEW_HELD,),
    "barnehus-recent-age-unknown": (K.INTERVIEW_HELD,),
    "barnehus-age-unknown": (K.INTERVIEW_HELD,),
    # strpl. § 249: a prosecution decision
    "youth-suspect": (K.PROSECUTION_DECISION,),
    "youth-suspect-age-unknown": (K.PROSECUTION_DECISION,),
}


def test_every_default_deadline_names_the_events_its_source_asks_for() -> None:
    named = {r.id: r.deadline.met_by for r in DEFAULT.rules if r.deadline is not None}
    assert named == EXPECTED
    assert all(set(kinds) <= MEETING_KINDS for kinds in named.values())


def decided(**changes: Any) -> Decision:
    report = standardised_report(NOW, "politiet.no", **changes)
    return decide(report, uuid.uuid4(), DEFAULT, NOW)


def test_the_decision_carries_the_winning_deadlines_events_and_moment() -> None:
    # A rape reported with an arrest: the custody deadline (3 days) is earlier than the
    # 130 days, so the case is held to the court hearing or a release, from the arrest.
    decision = decided(
        offences=[{"code": "strl-291"}],
        persons=[
            {"role": "suspect", "birth_date": "1990-01-01", "arrested_at": "2026-11-27T09:00:00Z"}
        ],
    )
    assert decision.deadline is not None
    assert decision.deadline.rule_id == "custody-adult"
    assert decision.deadline.met_by == [K.BROUGHT_BEFORE_COURT, K.RELEASED]
    assert decision.deadline.moment == "arrest"
    # as the 0015 trigger reads it: decision->'deadline'->'met_by' and ->>'moment'
    sent = msgspec.json.decode(msgspec.json.encode(decision))["deadline"]
    assert (sent["met_by"], sent["moment"]) == (["brought_before_court", "released"], "arrest")
    # ... and when the arrest was, ->>'counted_from': by the end of the third day after it.
    arrest = dt.datetime(2026, 11, 27, 9, tzinfo=dt.UTC)
    assert decision.deadline.counted_from == arrest
    assert dt.datetime.fromisoformat(sent["counted_from"]) == arrest
    reported = standardised_report(NOW, "politiet.no", offences=[{"code": "strl-291"}])
    rape = decide(reported, uuid.uuid4(), DEFAULT, NOW)
    assert rape.deadline is not None
    assert (rape.deadline.rule_id, rape.deadline.moment) == ("rape", "report")
    assert rape.deadline.met_by == [K.PROSECUTION_DECISION, K.CLOSED]
    # Counted from when it was reported (the report's own `reported_at`), not when decided.
    assert rape.deadline.counted_from == reported.reported_at != NOW


def test_a_decision_stored_before_met_by_still_reads() -> None:
    old = b'{"due_at": "2026-12-01T10:00:00Z", "basis": "b", "rule_id": "r"}'
    deadline = msgspec.json.decode(old, type=Deadline)
    assert (deadline.met_by, deadline.moment, deadline.counted_from) == ([], None, None)
    with pytest.raises(msgspec.ValidationError, match=r"\$\.met_by\[0\]"):
        msgspec.json.decode(old[:-1] + b', "met_by": ["returned_x"]}', type=Deadline)


# --- what the reader refuses -----------------------------------------------------------------


def test_a_deadline_without_met_by_is_refused_naming_rule_line_and_kinds(tmp_path: Path) -> None:
    error = refused(tmp_path, rule(""))
    assert isinstance(error, WrongTypeError)
    assert (error.rule, error.line) == ("weapon-target", 7)
    assert error.reason == (
        "a deadline needs `met_by`: the case events that meet it, e.g. "
        "`met_by: [brought_before_court]` (a deadline nothing meets can never be known met "
        f"or missed); {ALLOWED}"
    )
    assert str(error).startswith(f"{tmp_path / 'rules.yaml'}:7: rule weapon-target: ")


@pytest.mark.parametrize(
    ("written", "line", "message"),
    [
        (
            "[interview]",
            11,
            "unknown case event `interview` in `met_by` (did you mean `interview_held`?); ",
        ),
        (
            "[prosecution]",
            11,
            "unknown case event `prosecution` in `met_by` (did you mean `prosecution_decision`?)",
        ),
        ("[Released]", 11, "unknown case event `Released` in `met_by` (did you mean `released`?)"),
        (
            "[released, brought-before-court]",
            11,
            "unknown case event `brought-before-court` in `met_by` (did you mean "
            "`brought_before_court`?)",
        ),
        ("[court]", 11, "unknown case event `court` in `met_by`; "),
        ("\n          - released\n          - intervju", 13, "unknown case event `intervju`"),
    ],
)
def test_an_unknown_event_is_refused_with_the_nearest_and_the_kinds(
    tmp_path: Path, written: str, line: int, message: str
) -> None:
    error = refused(tmp_path, rule(f"        met_by: {written}\n"))
    assert isinstance(error, UnknownReferenceError)
    assert (error.rule, error.line) == ("weapon-target", line)
    assert error.reason.startswith(message)
    assert error.reason.endswith(ALLOWED)


def test_the_allowed_kinds_are_the_meeting_kinds_sorted() -> None:
    assert tuple(sorted(k.value for k in MEETING_KINDS)) == meeting.ALLOWED
    assert meeting.allowed_kinds() == ALLOWED


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("returned", "`returned` cannot meet a deadline: a return ends the unit's part"),
        ("received", "`received` cannot meet a deadline: the unit taking the case in meets no"),
    ],
)
def test_returned_and_received_are_refused_with_the_reason(
    tmp_path: Path, kind: str, why: str
) -> None:
    error = refused(tmp_path, rule(f"        met_by: [released, {kind}]\n"))
    assert isinstance(error, UnknownReferenceError)
    assert (error.rule, error.line) == ("weapon-target", 11)
    assert error.reason.startswith(why)
    assert error.reason.endswith(ALLOWED)


@pytest.mark.parametrize(
    ("written", "line", "message"),
    [
        ("[]", 11, f"`met_by` must be a non-empty list of case events, not `[]`; {ALLOWED}"),
        (
            "released",
            11,
            "`met_by` must be a non-empty list of case events, not `released` "
            f"(write `met_by: [released]`); {ALLOWED}",
        ),
        ("null", 11, f"`met_by` must be a non-empty list of case events, not `null`; {ALLOWED}"),
        ("[released, 7]", 11, f"`met_by` lists case events by name, not `7`; {ALLOWED}"),
        (
            "[{kind: released}]",
            11,
            f"`met_by` lists case events by name, not `{{kind: released}}`; {ALLOWED}",
        ),
        ("[released, released]", 11, "`released` is named twice in `met_by`"),
        ("\n          - closed\n          - closed", 13, "`closed` is named twice in `met_by`"),
    ],
)
def test_met_by_is_a_non_empty_list_without_repeats(
    tmp_path: Path, written: str, line: int, message: str
) -> None:
    error = refused(tmp_path, rule(f"        met_by: {written}\n"))
    assert isinstance(error, WrongTypeError)
    assert (error.rule, error.line, error.reason) == ("weapon-target", line, message)


def test_met_by_belongs_to_a_deadline_only(tmp_path: Path) -> None:
    error = refused(
        tmp_path,
        "  - id: a\n    when: {flag: weapon}\n    then: {priority: high, met_by: [closed]}\n",
    )
    assert error.line == 6
    assert "unknown key 'met_by' in then" in error.reason


def test_the_events_are_kept_in_the_order_written(tmp_path: Path) -> None:
    ruleset = load(tmp_path, rule("        met_by: [released, brought_before_court]\n"))
    deadline = ruleset.rules[0].deadline
    assert deadline is not None
    assert deadline.met_by == (K.RELEASED, K.BROUGHT_BEFORE_COURT)


def test_the_rule_sets_version_changes_with_met_by(tmp_path: Path) -> None:
    one = load(tmp_path, rule("        met_by: [closed]\n")).version
    other = load(tmp_path, rule("        met_by: [closed, prosecution_decision]\n")).version
    assert one != other


# --- fsi-rules check -------------------------------------------------------------------------


def test_fsi_rules_check_refuses_a_deadline_without_events_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + rule("        met_by: [returned]\n"), "utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert main(["check", str(path)], out=out, err=err) == 2  # unusable input, as other errors
    assert out.getvalue() == ""
    assert err.getvalue() == (
        f"error: {path}:11: rule weapon-target: `returned` cannot meet a deadline: a return "
        "ends the unit's part in the case (it goes back to the intake), so it meets no "
        f"deadline; {ALLOWED}\n"
    )


def test_fsi_rules_check_passes_the_default_rules() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["check", str(RULES)], out=out, err=err) == 0
    assert out.getvalue().splitlines()[-1].startswith("ok: ")
