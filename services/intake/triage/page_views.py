"""What the triage pages show and send, pure: times as people read them, why a report waits,
the forms' fields turned into the dispositions' request bodies, and refusals as messages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any, TypeVar, get_args

import msgspec

from schemas.report import OSLO, Role
from services.common.rules.explanation import RuleCheck
from services.common.text import quoted
from services.intake.triage.disposition_model import Reason, invalid_field
from services.intake.validation import Problem, walk

T = TypeVar("T", bound=msgspec.Struct)

# Why a report waits (work_items.reason), as the list says it.
REASON_WORDS = {
    "rule": "a rule sent it to triage",
    "quality_issues": "it has quality issues",
    "no_district": "no district could be placed",
    "returned": "a unit returned it",
    "transferred": "transferred from another district",
    "closure_rejected": "a closure was rejected",
    "transfer_rejected": "a transfer out was rejected",
}
# What a page says after a form did its work (the `done` query parameter of the redirect).
DONE = {
    "claimed": "You hold the claim on this report.",
    "released": "Claim released: the report is free for others.",
    "corrected": "Correction stored.",
    "routed": "Sent to the unit.",
    "transferred": "Transferred.",
    "linked": "Linked: sent to the other report's unit.",
    "closure_proposed": "Closure proposed: a prosecutor other than you decides on it.",
    "approved": "Proposal approved.",
    "rejected": "Proposal rejected: the report is back on the work list.",
    "reviewed": "Downgrade marked reviewed.",
}
# The longest reason the dispositions take (disposition_model.Reason): the fields' maxlength.
REASON_MAX: int = get_args(Reason)[1].max_length
FLAGS = ("domestic_violence", "hate_motive", "weapon", "ongoing_danger")
# A person's roles in a case, as a correction may set them.
ROLES = tuple(role.value for role in Role)
# What a correction form may change of each person of the report (by index).
PERSON_FIELDS = ("role", "birth_date", "national_id")
_PERSON_FIELD = re.compile(r"^person_(\d+)_(role|birth_date|national_id)$")
# A history event's details the page leaves out: ids that say nothing to a person.
_HIDDEN_DETAILS = ("act_id", "ruleset_version", "decision_id")


def local(moment: dt.datetime | str | None) -> str:
    """A time as Norwegian people read it (Europe/Oslo, `31.12.2026 14:05`), or a dash."""
    if moment is None:
        return "–"
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment.astimezone(OSLO).strftime("%d.%m.%Y %H:%M")


def age(seconds: int | float) -> str:
    """A duration in the largest whole unit that fits: `45 min`, `3 h`, `2 d`."""
    seconds = max(0, int(seconds))
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} d"
    if seconds >= 3600:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min"


def why_waits(reason: str, detail: str | None) -> str:
    """Why a report waits, in words, with its detail (a rule id, a district) after it."""
    words = REASON_WORDS.get(reason, reason)
    return f"{words} ({detail})" if detail else words


def due(moment: dt.datetime | str | None, now: dt.datetime) -> tuple[str, bool]:
    """A deadline as people read it and whether it has passed at `now` (the page says so in
    words, not only by colour)."""
    if moment is None:
        return local(None), False
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return local(moment), moment < now


def nearly(checks: list[RuleCheck]) -> tuple[list[RuleCheck], list[RuleCheck]]:
    """The rules worth a person's look, in file order: those that matched or came one
    condition short on something other than the offence (a municipality, a flag, a person:
    what a correction may change); and apart, those one condition short only on the offence
    (custody rules for a bicycle theft), which the page keeps collapsed."""
    useful = [c for c in checks if c.matched or (c.nearly and c.missed[0].key != "offence")]
    offence = [c for c in checks if c.nearly and c.missed[0].key == "offence"]
    return useful, offence


def _detail_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_detail_value(key, v) for v in value if v is not None)
    if isinstance(value, dict):
        return "; ".join(
            f"{k.replace('_', ' ')}: {_detail_value(k, v)}"
            for k, v in value.items()
            if v is not None
        )
    if isinstance(value, str) and key.endswith(("_at", "_until")):
        try:
            return local(value)
        except ValueError:
            return value
    return str(value)


def details_text(details: Mapping[str, Any]) -> str:
    """A history event's details in words (`unit: oslo.vold; deadline at: 01.12.2026 09:00`):
    ids and empty values left out, yes/no for flags, times in Oslo time; never `None`."""
    parts = []
    for key, value in details.items():
        if key in _HIDDEN_DETAILS or value is None or value == [] or value == {}:
            continue
        shown = _detail_value(key, value)
        if shown:
            parts.append(f"{key.replace('_', ' ')}: {shown}")
    return "; ".join(parts)


def is_change_field(name: str) -> bool:
    """Whether a correction form's field names a change (kept through the preview)."""
    return (
        name in ("municipality", "offences")
        or name.startswith("flag_")
        or _PERSON_FIELD.match(name) is not None
    )


def body(kind: type[T], raw: Mapping[str, Any]) -> T:
    """A request body of the dispositions from a form's fields (422 naming the field)."""
    try:
        return msgspec.convert(dict(raw), kind)
    except msgspec.ValidationError:
        # Each problem as an API body's: in words (never a pattern), no value quoted.
        first = (walk(dict(raw), kind) or [Problem("$", "invalid")])[0]
        raise invalid_field(first.path, first.message) from None


def _text(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    return value or None


def deadline(text: str | None) -> str | None:
    """A deadline as a person types it (`2026-12-01T09:00`, Oslo time) in ISO 8601 with its
    offset; 422 naming `deadline_at` when it is no time."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise invalid_field("$.deadline_at", f"{quoted(text)} is not a date and time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=OSLO)
    return moment.isoformat()


def changes_of(form: Mapping[str, str]) -> dict[str, Any]:
    """The changes a correction form asks for: a municipality, the offence codes (comma or
    space separated), flags set to yes or no, a person's role, birth date (YYYY-MM-DD) or
    national identity number (`person_<i>_<field>`); fields left empty change nothing."""
    changes: dict[str, Any] = {}
    if (municipality := _text(form, "municipality")) is not None:
        changes["incident.municipality"] = municipality
    if (offences := _text(form, "offences")) is not None:
        changes["offences"] = [code for code in offences.replace(",", " ").split() if code]
    for flag in FLAGS:
        value = form.get(f"flag_{flag}", "")
        if value in ("yes", "no"):
            changes[f"flags.{flag}"] = value == "yes"
    # A person's fields by index, in the order of the report's persons.
    people = sorted(
        (int(found[1]), found[2], value.strip())
        for name, value in form.items()
        if (found := _PERSON_FIELD.match(name)) is not None and value.strip()
    )
    for index, field, value in people:
        changes[f"persons[{index}].{field}"] = value
    return changes


def correction(form: Mapping[str, str], claim: str) -> dict[str, Any]:
    """The body of `correct` from its form (422 when it changes nothing)."""
    changes = changes_of(form)
    if not changes:
        raise invalid_field("$.changes", "change at least one field")
    return _with_reason({"claim": claim, "changes": changes}, form)


def route(form: Mapping[str, str], claim: str) -> dict[str, Any]:
    """The body of `route`: the unit chosen, a priority and deadline only when overridden."""
    raw: dict[str, Any] = {"claim": claim}
    for name in ("unit", "priority"):
        if (value := _text(form, name)) is not None:
            raw[name] = value
    if (due := deadline(_text(form, "deadline_at"))) is not None:
        raw["deadline_at"] = due
    return _with_reason(raw, form)


def transfer(form: Mapping[str, str], claim: str) -> dict[str, Any]:
    """The body of `transfer`: to a district, a unit, or an authority with its number."""
    to = form.get("to", "")
    if to == "authority":
        target: dict[str, Any] = {
            "authority": _text(form, "authority"),
            "organisation_number": _text(form, "organisation_number"),
        }
    elif to in ("district", "unit"):
        if (chosen := _text(form, to)) is None:
            raise invalid_field(f"$.to.{to}", f"choose a {to}")
        target = {to: chosen}
    else:
        raise invalid_field("$.to", "choose a district, a unit or an authority")
    return _with_reason({"claim": claim, "to": target}, form)


def link(form: Mapping[str, str], claim: str) -> dict[str, Any]:
    """The body of `link`: the other report's id."""
    return _with_reason({"claim": claim, "report_id": _text(form, "report_id")}, form)


def close(form: Mapping[str, str], claim: str) -> dict[str, Any]:
    """The body of `close`: a closure ground (422 when none is chosen) and the reason."""
    if _text(form, "ground") is None:
        raise invalid_field("$.ground", "choose a closure ground")
    return _with_reason({"claim": claim, "ground": _text(form, "ground")}, form)


def decide(form: Mapping[str, str]) -> dict[str, Any]:
    """The body of `approve`, `reject` and `reviewed`: the reason, if given."""
    return _with_reason({}, form)


def _with_reason(raw: dict[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    # Fields the use case finds missing are left out, so it names them as the API would.
    kept = {key: value for key, value in raw.items() if value is not None}
    if (reason := _text(form, "reason")) is not None:
        kept["reason"] = reason
    return kept
