"""Refusals as the triage pages say them: in words, each wrong field named by its label and
tied to the field of the form that was sent (its id, for `aria-invalid`, `aria-describedby`
and the banner's link to it)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.intake.triage.model import Refusal

# A correction's paths: `$.changes['<key>']` as the use case names a change, `$.<key>` as
# the report's contract names what is still wrong after it.
_CHANGE = re.compile(
    r"^\$\.changes\['(?P<key>[^']+)'\]$|^\$\.(?P<plain>(incident|offences|persons|flags).*)$"
)
_PERSON = re.compile(r"^persons\[(?P<index>\d+)\]\.(?P<field>role|birth_date|national_id)")
_PERSON_FIELDS = {
    "role": "role",
    "birth_date": "birth date",
    "national_id": "national identity number",
}
# Paths of the other forms: (the field's suffix in the form's ids, its label).
_PLAIN = {
    "$.reason": ("reason", "Reason"),
    "$.unit": ("unit", "Unit"),
    "$.priority": ("priority", "Priority"),
    "$.deadline_at": ("deadline", "Deadline"),
    "$.to": ("to", "Where to"),
    "$.to.district": ("to", "District"),
    "$.to.unit": ("to", "National unit"),
    "$.to.authority": ("name", "Authority"),
    "$.to.organisation_number": ("orgnr", "Organisation number"),
    "$.report_id": ("report", "The other report's id"),
    "$.ground": ("ground", "Ground"),
    "$.changes": ("municipality", "The correction"),
}


@dataclass(frozen=True, slots=True)
class FieldError:
    """One wrong field: the id of the form's field (None: the form has no field for it),
    its label as the page shows it, and what is wrong."""

    field: str | None
    label: str
    message: str


@dataclass(frozen=True, slots=True)
class Shown:
    """A refusal as a page shows it: a sentence, then each wrong field."""

    text: str
    fields: tuple[FieldError, ...] = ()

    def invalid(self, field: str) -> FieldError | None:
        """The error of the field with this id, if it has one."""
        return next((error for error in self.fields if error.field == field), None)


def _correction_field(path: str) -> tuple[str, str] | None:
    found = _CHANGE.match(path)
    if found is None:
        return None
    key = found["key"] or found["plain"]
    if key.startswith("incident.municipality"):
        return "municipality", "Municipality"
    if key.startswith("offences"):
        return "offences", "Offence codes"
    if key.startswith("flags."):
        flag = key.removeprefix("flags.")
        return f"flag-{flag}", f"Flag {flag.replace('_', ' ')}"
    if (person := _PERSON.match(key)) is not None:
        index, field = int(person["index"]), person["field"]
        return (
            f"person-{index}-{field.replace('_', '-')}",
            f"Person {index + 1}'s {_PERSON_FIELDS[field]}",
        )
    return None


def field_of(form: str, path: str) -> tuple[str | None, str]:
    """The id of the field of `form` (`correct`, `route`, `transfer-district`, ...: the ids'
    prefix) that a refusal's JSON path names, and its label; (None, "The form") for a path
    the form has no field for (the claim, say)."""
    named = _PLAIN.get(path) or (_correction_field(path) if form == "correct" else None)
    if named is None:
        return None, "The form"
    suffix, label = named
    return f"{form}-{suffix}", label


def shown(refusal: Refusal, form: str | None = None) -> Shown:
    """A refusal in the page's words: its detail when it names no field; else a sentence
    asking for a change and each field it names (tied to `form`'s fields when given)."""
    errors = refusal.extra.get("errors")
    if not isinstance(errors, list) or not errors:
        return Shown(refusal.detail)
    fields = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        field, label = field_of(form, str(error.get("path", ""))) if form else (None, "The form")
        fields.append(FieldError(field, label, _words(str(error.get("message", "")))))
    if not fields:
        return Shown(refusal.detail)
    named = [f.label[0].lower() + f.label[1:] for f in fields]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return Shown(f"check {listed}.", tuple(fields))


def _words(message: str) -> str:
    # msgspec's words for a field left out (the path names the field).
    return "required" if message.startswith("Object missing required field") else message
