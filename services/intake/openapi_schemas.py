"""The OpenAPI document's schemas, saying what the server checks beyond the msgspec contracts:
the time forms it reads, "an offence needs a code or a label", the batch items judged one by
one and their outcomes, the source formats' codes.

Each rule here mirrors a check in the intake; the document is tested against the running
server (tests/integration/security/test_fuzz_api.py) with schemathesis' conformance checks.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import inspect

from schemas.report import EARLIEST_YEAR, LATEST_YEAR, Offence, Report
from schemas.textrules import ACCOUNT, LINE, NO_CONTROLS

REF = "#/components/schemas/{name}"

# Digits are `[0-9]`: Python's `\d` also matches other scripts' digits, which msgspec refuses.
# Times are read by msgspec (RFC 3339 section 5.6; a time without an offset is Norwegian local
# time), rounded to the microsecond and refused unless the instant lies in EARLIEST_YEAR to
# LATEST_YEAR in UTC. The patterns say what a pattern can: the years in those bounds, every
# day a month can have (29 February too: a pattern cannot tell leap years, and a generated
# client must not refuse a real leap day), RFC 3339's forms, lowercase `t` and `z` included
# (its ABNF is case-insensitive) and any number of fractional digits (.NET writes 7, Go and
# Java up to 9). What a pattern cannot say is in the descriptions, each a 422: 29 February of
# a year that is not a leap year, and an instant an offset moves out of the years. Stricter
# than the server only where no client gains: a space for the `T`, an offset without its
# colon (not RFC 3339; every library writes the RFC's form).
_YEAR = r"(?:19[0-9][0-9]|20[0-9][0-9]|2100)"  # EARLIEST_YEAR .. LATEST_YEAR
_DAY = (
    r"(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-9])|(?:0[13-9]|1[0-2])-30"
    r"|(?:0[13578]|1[02])-31)"
)
_TIME = r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
_OFFSET = r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_YEARS = f"from {EARLIEST_YEAR} to {LATEST_YEAR}"
LEAP_DAY = (
    "29 February of a year that is not a leap year is refused with 422 (a pattern cannot "
    "tell leap years)."
)
_IN_UTC = (
    f"The instant, rounded to the microsecond, must lie in the years {_YEARS} in UTC, else "
    f"422: early on 1 January {EARLIEST_YEAR} with a positive offset (or in Europe/Oslo time, "
    f"then UTC+1), or late on 31 December {LATEST_YEAR} with a negative offset."
)
DATE_TIME: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": f"^{_YEAR}-{_DAY}{_TIME}{_OFFSET}$",
}
LOCAL_DATE_TIME: dict[str, Any] = {
    "type": "string",
    "pattern": f"^{_YEAR}-{_DAY}{_TIME}$",
    "description": "Without an offset: Norwegian local time (Europe/Oslo).",
}
TIME_IN: dict[str, Any] = {
    "anyOf": [DATE_TIME, LOCAL_DATE_TIME],
    "description": (
        f"An RFC 3339 date-time {_YEARS}; without an offset it is Europe/Oslo time. "
        f"{_IN_UTC} {LEAP_DAY}"
    ),
}
DATE_IN: dict[str, Any] = {
    "type": "string",
    "format": "date",
    "pattern": f"^{_YEAR}-{_DAY}$",
    "description": f"An RFC 3339 full-date {_YEARS}. {LEAP_DAY}",
}
# The citizen form's own forms, 'dd.mm.åååå' and 'dd.mm.åååå tt:mm' (Europe/Oslo).
_DAY_FIRST = (
    r"(?:(?:0[1-9]|1[0-9]|2[0-9])\.(?:0[1-9]|1[0-2])|30\.(?:0[13-9]|1[0-2])"
    r"|31\.(?:0[13578]|1[02]))"
)
LOCAL_DATE_FORM = f"^{_DAY_FIRST}\\.{_YEAR}$"
LOCAL_TIME_FORM = f"^{_DAY_FIRST}\\.{_YEAR} (?:[01][0-9]|2[0-3]):[0-5][0-9]$"
LOCAL_DATE_FORM_TEXT = f"The form's date, 'dd.mm.åååå', {_YEARS}. {LEAP_DAY}"
LOCAL_TIME_FORM_TEXT = (
    f"The form's time, 'dd.mm.åååå tt:mm', Europe/Oslo local time, {_YEARS}: before 01:00 "
    f"on 1 January {EARLIEST_YEAR} is {EARLIEST_YEAR - 1} in UTC and refused with 422. "
    f"{LEAP_DAY}"
)
# A date that the intake turns into a time of day (an agency's period starts at 00:00
# Europe/Oslo time): its first day in UTC is the year before.
DAY_START_TEXT = (
    f"The incident's first day; it starts at 00:00 Europe/Oslo time, so 1 January "
    f"{EARLIEST_YEAR} (in UTC still {EARLIEST_YEAR - 1}) is refused with 422."
)
# Text the canonical contract takes (schemas.textrules): a visible character, no control
# character; free text keeps tab and line breaks. The contract writes white space out, not
# as `\s` (ECMA-262's, which JSON Schema validators use, differs from Python's), so the
# document uses its patterns as they are.
TEXT = LINE
CONTRACT_TEXT = LINE

OUTCOMES = ["accepted", "duplicate", "conflict", "invalid", "forbidden"]


def _plain(tp: Any) -> Any:
    """The inspected type without Annotated metadata and without `| None`."""
    while isinstance(tp, inspect.Metadata):
        tp = tp.type
    if isinstance(tp, inspect.UnionType):
        options = [t for t in tp.types if not isinstance(t, inspect.NoneType)]
        return _plain(options[0]) if len(options) == 1 else tp
    return tp


def replace_string(schema: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its string form replaced by `new` (also inside `anyOf [string, null]`)."""
    options = schema.get("anyOf")
    if options is None:
        return {**{k: v for k, v in schema.items() if k not in {"type", "format"}}, **new}
    kept = [o for o in options if o.get("type") != "string"]
    return {**schema, "anyOf": [new, *kept]}


def times(schemas: dict[str, Any], structs: list[type[msgspec.Struct]], written: set[str]) -> None:
    """Every datetime and date field of these Structs (and the Structs inside them) in the
    forms the server reads; those of Structs the intake writes (`written`) are RFC 3339 with
    an offset, as msgspec writes them."""
    seen: set[str] = set()
    todo = [inspect.type_info(s) for s in structs]
    while todo:
        info = _plain(todo.pop())
        if isinstance(info, inspect.ListType):
            todo.append(info.item_type)
            continue
        if not isinstance(info, inspect.StructType) or info.cls.__name__ in seen:
            continue
        name = info.cls.__name__
        seen.add(name)
        properties = schemas.get(name, {}).get("properties", {})
        for field in info.fields:
            kind = _plain(field.type)
            if isinstance(kind, inspect.DateTimeType) and field.encode_name in properties:
                form = {"type": "string", "format": "date-time"} if name in written else TIME_IN
                properties[field.encode_name] = replace_string(properties[field.encode_name], form)
            elif isinstance(kind, inspect.DateType) and field.encode_name in properties:
                properties[field.encode_name] = replace_string(
                    properties[field.encode_name], DATE_IN
                )
            else:
                todo.append(field.type)


def offence_needs_code_or_label(schemas: dict[str, Any]) -> None:
    """`Offence.__post_init__`: a code, a label or both, each a string (not null)."""
    schemas[Offence.__name__]["anyOf"] = [
        {"required": [name], "properties": {name: {"type": "string"}}} for name in ("code", "label")
    ]


def batch(schemas: dict[str, Any], max_items: int) -> dict[str, Any]:
    """The batch body: up to `max_items` items, each judged on its own, so any JSON value is
    an item (one that is not a valid report is answered `invalid` with its problems)."""
    item = {
        "anyOf": [{"$ref": REF.format(name=Report.__name__)}, {}],
        "description": "A canonical report; anything else is answered `invalid` in its place.",
    }
    schemas["BatchRequest"] = {
        "title": "BatchRequest",
        "type": "object",
        "properties": {
            "reports": {
                "type": "array",
                "items": item,
                "minItems": 1,
                "maxItems": max_items,
                "description": f"1 to {max_items} reports; more is a 413.",
            }
        },
        "required": ["reports"],
        "additionalProperties": False,
    }
    result = schemas.get("ItemResult", {}).get("properties", {})
    if "outcome" in result:
        result["outcome"] = {"type": "string", "enum": OUTCOMES}
    summary = schemas.get("BatchOut", {}).get("properties", {}).get("summary")
    if summary is not None:
        summary["propertyNames"] = {"enum": OUTCOMES}
        summary["description"] = "How many items had each outcome."
    return {"$ref": REF.format(name="BatchRequest")}


def enum_of(schemas: dict[str, Any], name: str, field: str, values: list[str]) -> None:
    """A source format's code field as the codes its mapping knows (as they are written)."""
    prop = schemas[name]["properties"][field]
    code = {"type": "string", "enum": sorted(values)}
    schemas[name]["properties"][field] = replace_string(prop, code) if "anyOf" in prop else code


# Source-format fields that become canonical text, which must hold a character that is not
# white space (TEXT, ACCOUNT for free text); optional ones the adapter takes as not given
# when nothing visible is in them ("", white space) hold only no control character (NO_NUL).
NO_NUL = NO_CONTROLS
SOURCE_TEXTS: dict[str, dict[str, str]] = {
    "CitizenReport": {
        "referanse": TEXT,
        "kategori": TEXT,
        "beskrivelse": ACCOUNT,
        "adresse": NO_NUL,
        "kommune": NO_NUL,
    },
    "CitizenPerson": {
        "fornavn": NO_NUL,
        "etternavn": NO_NUL,
        "fodselsnummer": NO_NUL,
        "telefon": NO_NUL,
    },
    "PatrolReport": {"case_ref": TEXT, "narrative": ACCOUNT, "codes": TEXT},
    "PatrolScene": {"address": NO_NUL},
    "PatrolPerson": {"fnr": NO_NUL, "name": NO_NUL, "tlf": NO_NUL},
    "AgencyReport": {"meldingsId": TEXT, "sammendrag": ACCOUNT},
    # An organisasjonsnummer is nine digits, often written in threes.
    "AgencySender": {"organisasjonsnummer": r"^[0-9]{3} ?[0-9]{3} ?[0-9]{3}$"},
    "AgencyCount": {"lovhenvisning": TEXT},
    "AgencyPlace": {"beskrivelse": NO_NUL},
    "AgencyParty": {"fodselsnummer": NO_NUL, "navn": NO_NUL},
}
# Rules across fields, which JSON Schema cannot state: said in the schemas' descriptions.
CROSS_FIELD = {
    "Incident": "`occurred_to`, when given, is not before `occurred_from` (else a 422).",
    "CitizenReport": (
        "`hendelse_til`, when given, is not before `hendelse_fra`; a person's `fornavn` and "
        "`etternavn` together (with a space) are at most 200 characters (else a 422)."
    ),
    "PatrolReport": "`ended`, when given, is not before `started` (else a 422).",
    "AgencyPeriod": "`til`, when given, is not before `fra` (else a 422).",
}


def source_texts(schemas: dict[str, Any]) -> None:
    """The text rules the canonical report holds source fields to, and the rules across
    fields in words."""
    for name, fields in SOURCE_TEXTS.items():
        properties = schemas[name]["properties"]
        for field, pattern in fields.items():
            prop = properties[field]
            prop = prop.get("items", prop)  # a list of texts: each item
            for option in prop.get("anyOf", [prop]):
                if option.get("type") == "string":
                    option["pattern"] = pattern
    for name, rule in CROSS_FIELD.items():
        described = schemas[name].get("description", "")
        schemas[name]["description"] = f"{described} {rule}".strip()


def spelt_out_text(value: Any) -> None:
    """The contract's text pattern, wherever it is, with white space spelt out (see TEXT)."""
    if isinstance(value, dict):
        if value.get("pattern") == CONTRACT_TEXT:
            value["pattern"] = TEXT
        for item in value.values():
            spelt_out_text(item)
    elif isinstance(value, list):
        for item in value:
            spelt_out_text(item)


# What the intake sets in a report; a client's value is replaced, so a client sends none.
SET_BY_THE_INTAKE = {
    "Person": ["id_kind", "age_at_incident"],
    "Report": ["quality_issues", "notes"],
}


def read_only(schemas: dict[str, Any]) -> None:
    """Fields the intake sets, marked `readOnly` (OpenAPI 3.1: sent in answers, not asked)."""
    for name, fields in SET_BY_THE_INTAKE.items():
        for field in fields:
            if field in schemas[name]["properties"]:
                schemas[name]["properties"][field]["readOnly"] = True
