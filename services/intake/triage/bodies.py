"""The triage routes' JSON bodies, read as a report's body is read: within the size and time
limits, a JSON media type, nesting, keys given twice, U+0000 and every field checked, each
refusal the same problem a report's body gets, and an unknown field named when its name is
a plain word."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from services.common.jsontext import BOM
from services.intake.body import read_body
from services.intake.problems import not_json
from services.intake.requestbody import check_json
from services.intake.state import limits_of
from services.intake.triage.model import Refusal
from services.intake.validation import UNKNOWN_FIELD, UNKNOWN_KEY, NotJson, Problem, decode

T = TypeVar("T", bound=msgspec.Struct)
# A key of ours is a plain word; a client's key that is one may be named in a problem (no
# digits: an identity number sent as a key is never repeated back).
_PLAIN_KEY = re.compile(r"[A-Za-z_]{1,40}")


class ClaimBody(msgspec.Struct, forbid_unknown_fields=True):
    """`POST`/`DELETE .../claim`: no fields (the lease is the intake's setting); a body, when
    sent, is `{}`."""


def _unknown_keys(value: Any, kind: Any, path: str) -> list[str] | None:
    """The keys of the object at `path` (`$`, `$.to`, ...) that are not fields of its
    struct, when the path runs through structs only; None when it does not."""
    for step in path.removeprefix("$").split(".")[1:]:
        fields = {f.encode_name: f.type for f in msgspec.structs.fields(kind)}
        if not isinstance(value, dict) or step not in fields:
            return None
        value, kind = value[step], _struct_of(fields[step])
        if kind is None:
            return None
    if not isinstance(value, dict) or not isinstance(kind, type):
        return None
    known = {f.encode_name for f in msgspec.structs.fields(kind)}
    return [key for key in value if key not in known]


def _struct_of(tp: Any) -> Any:
    """The struct type of a field's type (`Target`, `Target | None`), None for any other."""
    options = [a for a in getattr(tp, "__args__", (tp,)) if a is not type(None)]
    found = [o for o in options if isinstance(o, type) and issubclass(o, msgspec.Struct)]
    return found[0] if len(found) == 1 else None


def _named(problem: Problem, plain: Any, kind: type[msgspec.Struct]) -> list[dict[str, str]]:
    """A problem as the refusal's `errors` lists it: an unknown field by its name when the
    name is a plain word (a triage body's keys are ours: `claim`, `reason`, `to`)."""
    message = problem.message.replace("of the report as sent", "of the body as sent")
    if not (problem.path.endswith("." + UNKNOWN_KEY) and message.startswith(UNKNOWN_FIELD)):
        return [{"path": problem.path, "message": message}]
    where = problem.path.removesuffix("." + UNKNOWN_KEY)
    keys = _unknown_keys(plain, kind, where) or []
    if not keys or not all(_PLAIN_KEY.fullmatch(key) for key in keys):
        return [{"path": problem.path, "message": message}]
    return [
        {"path": f"{where}.{key}", "message": "unknown field: not one of this request's"}
        for key in keys
    ]


def refused(errors: list[dict[str, str]]) -> Refusal:
    """422 listing every field that is wrong (`errors`: path and message each)."""
    named = "; ".join(f"{e['path']}: {e['message']}" for e in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return Refusal(
        422,
        "invalid-disposition",
        "The request cannot be done as sent",
        named + more,
        errors=errors,
    )


async def read_json(request: Any, kind: type[T]) -> tuple[T, dict[str, Any]]:
    """(the body as `kind`, the body as the JSON object it was, for a retry's fingerprint).
    No body is `{}`. Refusals as a report's body: 413 past the body limit, 408 too slow,
    415 not JSON by its Content-Type, 400 not JSON (or nested too deeply), 422 (problem
    `invalid-disposition`, `errors` of path and message) for a key given twice, U+0000 in a
    text, an unknown, missing or ill-typed field; no value is quoted back."""
    body = await read_body(request, limits_of(request).max_body_bytes)
    if not body.strip():
        body = b"{}"
    else:
        check_json(request)
    try:
        value, problems = decode(body, kind)
    except NotJson as exc:
        raise not_json(exc) from None
    plain = msgspec.json.decode(body.removeprefix(BOM))
    if value is None or problems:
        raise refused([e for p in problems for e in _named(p, plain, kind)])
    if not isinstance(plain, dict):  # a struct is decoded from an object only
        raise refused([{"path": "$", "message": "Expected `object`"}])
    return value, plain
