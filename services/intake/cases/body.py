"""A posted case event read and checked: the report id in the path, the body decoded as
`schemas.caseevents.CaseEventBody` with every problem named by its path and its value quoted
as written (never one shaped as an identity number), the rules across fields, the clock."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import msgspec
from litestar.plugins.problem_details import ProblemDetailsException

from schemas.caseevents import (
    CaseEventBody,
    CaseEventKind,
    CaseOutcome,
    ReturnReason,
    field_problems,
)
from services.common.caseevents.model import SKEW, iso
from services.common.jsontext import BOM
from services.common.text import quoted
from services.intake.body import read_body
from services.intake.problems import not_json, problem
from services.intake.requestbody import check_json
from services.intake.validation import UNKNOWN_FIELD, UNKNOWN_KEY, NotJson, Problem, decode

# The problem type of an event that cannot be taken as sent (422), and of its path's id.
INVALID = "invalid-case-event"
FIELDS = tuple(f.encode_name for f in msgspec.structs.fields(CaseEventBody))
# A key of ours is a plain word: an unknown key that is one is named (no digits: an
# identity number sent as a key is never repeated back).
_PLAIN_KEY = re.compile(r"[A-Za-z_]{1,40}")
# Eleven digits, spaced or not: a value that may be a national identity number is not quoted.
_ID_SHAPED = re.compile(r"[0-9]{6}[\s.-]?[0-9]{5}")
# The canonical form of a UUID (what the API writes), case-insensitive; braces, a `urn:uuid:`
# prefix or missing hyphens are refused rather than read.
_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def shown(value: Any) -> str | None:
    """A value as a problem quotes it: a text between quotes (cut long, by `quoted`), a
    number, true, false or null as written in JSON; None (not quoted) for an object or an
    array, and for a text holding eleven digits in a row (it may be an identity number)."""
    if isinstance(value, str):
        return None if _ID_SHAPED.search(value) else quoted(value)
    if value is None or isinstance(value, (bool, int, float)):
        return quoted(msgspec.json.encode(value).decode(), quote="")
    return None


def _entry(path: str, message: str, plain: Any) -> dict[str, str]:
    entry = {"path": path, "message": message}
    field = path.removeprefix("$.")
    if isinstance(plain, dict) and field in FIELDS and field in plain:
        value = shown(plain[field])
        if value is not None:
            entry["value"] = value
    return entry


# The fields a unit writes from a vocabulary: a word not in it is answered with the words.
_VOCABULARIES = {
    "$.kind": [k.value for k in CaseEventKind],
    "$.reason": [r.value for r in ReturnReason],
    "$.outcome": [o.value for o in CaseOutcome],
}


def _named(found: Problem, plain: Any) -> list[dict[str, str]]:
    """A decoding problem as `errors` lists it: its value quoted, and unknown fields each by
    its name when every one is a plain word (else as `$.…`, once)."""
    if found.path == f"$.{UNKNOWN_KEY}" and found.message.startswith(UNKNOWN_FIELD):
        keys = [k for k in plain if k not in FIELDS] if isinstance(plain, dict) else []
        if keys and all(_PLAIN_KEY.fullmatch(k) for k in keys):
            why = "unknown field: not one of a case event's (" + ", ".join(FIELDS) + ")"
            return [{"path": f"$.{key}", "message": why} for key in keys]
    message = found.message.replace("of the report as sent", "of the body as sent")
    allowed = _VOCABULARIES.get(found.path)
    if allowed is not None and message.startswith("Invalid enum value"):
        message = f"{message}: one of {', '.join(f'`{v}`' for v in allowed)}"
    return [_entry(found.path, message, plain)]


def invalid(errors: list[dict[str, str]]) -> ProblemDetailsException:
    """422 `invalid-case-event`: every problem in `errors` (path, message, the value as
    written), the first three in the detail."""
    named = "; ".join(
        f"{e['path']}" + (f" = {e['value']}" if "value" in e else "") + f": {e['message']}"
        for e in errors[:3]
    )
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return problem(422, INVALID, "The case event is not valid", named + more, errors=errors)


def path_id(text: str) -> tuple[uuid.UUID | None, list[dict[str, str]]]:
    """The report id of the path as written: (the id, []) or (None, its problem)."""
    if _UUID.fullmatch(text):
        return uuid.UUID(text), []
    error = {"path": "report_id", "in": "path", "message": "is not a UUID (8-4-4-4-12 hex digits)"}
    value = shown(text)
    if value is not None:
        error["value"] = value
    return None, [error]


async def read_event(
    request: Any, report_id: str, limit: int
) -> tuple[uuid.UUID, CaseEventBody, dict[str, Any]]:
    """(the path's report id, the body as a `CaseEventBody`, the body as the JSON object it
    was). Refused as a report's body is (415 not JSON by its type, 413 over `limit` bytes,
    408 too slow, 400 not JSON) and 422 `invalid-case-event` naming every problem of the
    path's id and of the body (a missing, unknown, ill-typed or repeated field)."""
    found_id, errors = path_id(report_id)
    check_json(request)
    body = await read_body(request, limit)
    try:
        event, problems = decode(body, CaseEventBody)
    except NotJson as exc:
        raise not_json(exc) from None
    plain = msgspec.json.decode(body.removeprefix(BOM)) if problems else None
    errors += [entry for p in problems for entry in _named(p, plain)]
    if errors or event is None or found_id is None:
        raise invalid(errors or [{"path": "$", "message": "Expected `object`"}])
    return found_id, event, msgspec.json.decode(body.removeprefix(BOM))


def rule_problems(
    event: CaseEventBody, plain: dict[str, Any], now: dt.datetime
) -> tuple[list[dict[str, str]], bool]:
    """What a well-typed event breaks, each with its value: the rules across fields
    (`field_problems`: a reason only on `returned`, an outcome on `prosecution_decision`
    and `closed` only, a time with an offset) and a time later than `now` beyond the
    clocks' skew; and whether the time is all it breaks (counted as `in_future`, as the
    router counts it)."""
    found = [_entry(path, message, plain) for path, message in field_problems(event)]
    at = event.occurred_at
    if at.tzinfo is not None and at > now + SKEW:
        message = f"is later than now ({iso(now)}): an event is sent once it happened"
        return [*found, _entry("$.occurred_at", message, plain)], not found
    return found, False
