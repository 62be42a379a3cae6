"""A person's correction of a report (pure): the changes applied, checked and standardised
again, the fields changed by name, and whether it is a downgrade."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from schemas.decision import Priority
from schemas.reference import Reference
from schemas.report import Flags, Incident, Offence, Person, Report, Role
from schemas.textrules import FOUR_DIGITS
from services.common.standardise import Options, offence_code, standardise
from services.common.text import quoted
from services.intake.service import contract_problems
from services.intake.validation import Problem

# What a correction may change, by key: the incident's municipality (a number or a name),
# every offence code at once or one by index, a person's role, birth date or national
# identity number by index, a flag.
_KEY = re.compile(
    r"incident\.municipality|offences|offences\[(?P<offence>\d+)\]"
    r"|persons\[(?P<person>\d+)\]\.(?P<field>role|birth_date|national_id)"
    r"|flags\.(?P<flag>[a-z_]+)"
)
KEYS_HELP = (
    "incident.municipality, offences, offences[i], persons[i].role, persons[i].birth_date, "
    f"persons[i].national_id, flags.<{'|'.join(Flags.__struct_fields__)}>"
)
MAX_OFFENCES = 20
DEFAULT_OPTIONS = Options()
_FOUR_DIGITS = re.compile(FOUR_DIGITS)
_INDEX = re.compile(r"\$\.offences\[(\d+)\]")


class CorrectionProblems(ValueError):
    """Changes that cannot be made: each problem names the change (`$.changes['<key>']`)
    and quotes the value as written (never a national identity number)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the changes")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Correction:
    """A report corrected and standardised again: the new report (with its quality issues),
    the keys of the changes that changed something (names, never values), and the offence
    codes the correction took out."""

    report: Report
    fields: tuple[str, ...]
    replaced_offences: tuple[str, ...]


def _where(key: str) -> str:
    return f"$.changes[{quoted(key)}]"


def _shown(value: Any) -> str:
    return quoted(value) if isinstance(value, str) else quoted(repr(value), quote="")


class _Changes:
    """Applies changes one by one to the parts of a report, collecting what is wrong."""

    def __init__(self, report: Report) -> None:
        self.incident: Incident = report.incident
        self.offences: list[Offence] = list(report.offences)
        self.persons: list[Person] = list(report.persons)
        self.flags: Flags = report.flags
        self.problems: list[Problem] = []

    def wrong(self, key: str, message: str) -> None:
        self.problems.append(Problem(_where(key), message))

    def municipality(self, key: str, value: Any) -> None:
        if not isinstance(value, str) or not value.strip():
            self.wrong(key, f"{_shown(value)}: a kommunenummer (4 digits) or a municipality name")
        elif _FOUR_DIGITS.fullmatch(value.strip()):
            # The person places it: the name the sender gave no longer says where.
            self.incident = msgspec.structs.replace(
                self.incident, municipality=value.strip(), municipality_name=None
            )
        else:
            self.incident = msgspec.structs.replace(
                self.incident, municipality=None, municipality_name=value
            )

    def _code(self, key: str, value: Any, reference: Reference) -> Offence | None:
        if not isinstance(value, str) or offence_code(value, reference) is None:
            self.wrong(
                key,
                f"{_shown(value)} is not an offence code the intake can read (one section, "
                "such as 'strl-321' or 'straffeloven § 321')",
            )
            return None
        return Offence(code=value)

    def all_offences(self, key: str, value: Any, reference: Reference) -> None:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_OFFENCES:
            self.wrong(key, f"a list of 1 to {MAX_OFFENCES} offence codes, not {_shown(value)}")
            return
        read = [self._code(f"{key}[{i}]", v, reference) for i, v in enumerate(value)]
        if all(o is not None for o in read):
            self.offences = [o for o in read if o is not None]

    def one_offence(self, key: str, index: int, value: Any, reference: Reference) -> None:
        if index >= len(self.offences):
            self.wrong(key, f"the report has {len(self.offences)} offence(s)")
            return
        read = self._code(key, value, reference)
        if read is not None:
            self.offences[index] = read

    def person(self, key: str, index: int, field: str, value: Any) -> None:
        if index >= len(self.persons):
            self.wrong(key, f"the report has {len(self.persons)} person(s)")
            return
        person = self.persons[index]
        if field == "role":
            if value not in set(Role):
                roles = ", ".join(r.value for r in Role)
                self.wrong(key, f"{_shown(value)} is not a role (one of {roles})")
                return
            self.persons[index] = msgspec.structs.replace(person, role=Role(value))
        elif field == "birth_date":
            try:
                born = None if value is None else dt.date.fromisoformat(value)
            except (TypeError, ValueError):
                self.wrong(key, f"{_shown(value)} is not a date (YYYY-MM-DD) or null")
                return
            self.persons[index] = msgspec.structs.replace(person, birth_date=born)
        elif value is not None and (not isinstance(value, str) or not value.strip()):
            # The value itself is never quoted: it may be a national identity number.
            self.wrong(key, "a national identity number (11 digits) as text, or null")
        else:
            self.persons[index] = msgspec.structs.replace(person, national_id=value)

    def flag(self, key: str, name: str, value: Any) -> None:
        if name not in Flags.__struct_fields__:
            self.wrong(key, f"no flag {quoted(name)} (flags: {', '.join(Flags.__struct_fields__)})")
        elif not isinstance(value, bool):
            self.wrong(key, f"{_shown(value)}: a flag is true or false")
        else:
            self.flags = msgspec.structs.replace(self.flags, **{name: value})


def _apply(report: Report, changes: Mapping[str, Any], reference: Reference) -> Report:
    done = _Changes(report)
    for key, value in changes.items():
        match = _KEY.fullmatch(key)
        if match is None:
            done.wrong(key, f"not a field a correction changes (one of {KEYS_HELP})")
        elif key == "incident.municipality":
            done.municipality(key, value)
        elif key == "offences":
            done.all_offences(key, value, reference)
        elif match["offence"] is not None:
            done.one_offence(key, int(match["offence"]), value, reference)
        elif match["person"] is not None:
            done.person(key, int(match["person"]), match["field"], value)
        else:
            done.flag(key, match["flag"], value)
    if done.problems:
        raise CorrectionProblems(done.problems)
    return msgspec.structs.replace(
        report,
        incident=done.incident,
        offences=done.offences,
        persons=done.persons,
        flags=done.flags,
    )


def _paths(key: str) -> tuple[str, ...]:
    """The report paths standardisation names for what a change touched."""
    if key == "incident.municipality":
        return ("$.incident.municipality", "$.incident.municipality_name")
    return ("$." + key,)


def _value(report: Report, key: str) -> Any:
    """What a report holds at a change's key, for telling whether the change changed it."""
    if key == "incident.municipality":
        return report.incident.municipality, report.incident.municipality_name
    if key == "offences":
        return [o.code for o in report.offences]
    match = _KEY.fullmatch(key)
    assert match is not None  # only keys already applied come here
    if match["offence"] is not None:
        return report.offences[int(match["offence"])].code
    if match["person"] is not None:
        return getattr(report.persons[int(match["person"])], match["field"])
    return getattr(report.flags, match["flag"])


def _issue_problems(new: Report, changes: Mapping[str, Any]) -> list[Problem]:
    """A change that standardisation still finds wrong is refused: the person is there to
    make it right (what the sender got wrong elsewhere stays a quality issue)."""
    problems = []
    for key, value in changes.items():
        paths = _paths(key)
        for issue in new.quality_issues:
            if not issue.path.startswith(paths):
                continue
            where, written = _where(key), value
            index = _INDEX.match(issue.path)
            if key == "offences" and index is not None and isinstance(value, list):
                where, written = f"{where}[{index[1]}]", value[int(index[1])]
            # An identity number is never quoted; a code, a name or a date is.
            shown = "" if key.endswith("national_id") else f"{_shown(written)}: "
            problems.append(Problem(where, f"{shown}{issue.message}"))
    return problems


def correct(
    report: Report,
    changes: Any,
    reference: Reference,
    received_at: dt.datetime,
    options: Options = DEFAULT_OPTIONS,
) -> Correction:
    """`report` (standardised, as the work item holds it) with `changes` (a JSON object,
    key → value; keys in `KEYS_HELP`) applied and standardised again as the intake does
    (`received_at`: when the intake received it). `CorrectionProblems` when a change is not
    one the intake knows, has a value of the wrong form, still gives a quality issue, or
    when nothing changes at all."""
    if not isinstance(changes, dict) or not changes:
        raise CorrectionProblems([Problem("$.changes", f"an object of changes ({KEYS_HELP})")])
    applied = _apply(report, changes, reference)
    try:
        new = standardise(applied, reference, received_at, options)
    except (ValueError, OverflowError):
        raise CorrectionProblems(
            [Problem("$.changes", "the corrected report cannot be standardised")]
        ) from None
    problems = _issue_problems(new, changes) + contract_problems(new, "after the correction")
    if problems:
        raise CorrectionProblems(problems)
    fields = tuple(key for key in changes if _value(new, key) != _value(report, key))
    if not fields:
        raise CorrectionProblems([Problem("$.changes", "the changes change nothing")])
    before = {o.code for o in report.offences if o.code}
    after = {o.code for o in new.offences if o.code}
    return Correction(new, fields, tuple(sorted(before - after)))


_RANK_NAMES = {p.rank: p.value for p in Priority}


def _rank(code: str | None, reference: Reference) -> int | None:
    entry = reference.offence(code) if code else None
    return entry.default_priority.rank if entry else None


def downgrades(
    before: Priority,
    after: Priority,
    replaced: Sequence[str],
    remaining: Sequence[str | None],
    reference: Reference,
) -> list[str]:
    """Why a change is a downgrade (empty: it is not): the highest priority decided `after`
    lower than `before`, or an offence taken out (`replaced`) more serious, by the offence
    table's default priority, than every offence `remaining`."""
    why = []
    if after.rank < before.rank:
        why.append(f"lowers the priority from {before.value} to {after.value}")
    ranks = [r for r in (_rank(c, reference) for c in remaining) if r is not None]
    left = max(ranks, default=-1)
    for code in replaced:
        rank = _rank(code, reference)
        if rank is not None and rank > left:
            was = _RANK_NAMES[rank]
            now = _RANK_NAMES[left] if left >= 0 else "no known offence"
            why.append(f"replaces {code} ({was}) by less serious offences ({now})")
    return why
