"""A request's JSON body: its media type checked, read within the limits, decoded into a
contract with every problem named (400, 415, 422; sizes and time as `body.read_body`)."""

from __future__ import annotations

from typing import Any, TypeVar

from litestar import Request

from services.intake.body import read_body
from services.intake.problems import invalid, not_json, problem
from services.intake.validation import NotJson, decode

T = TypeVar("T")


def check_json(request: Request[Any, Any, Any]) -> str:
    """The request's Content-Type as sent, when it is JSON (`application/json` or a type
    ending in `+json`); 415 otherwise."""
    media = request.headers.get("content-type", "")
    kind = media.split(";")[0].strip().lower()
    if kind != "application/json" and not (
        kind.startswith("application/") and kind.endswith("+json")
    ):
        # What was sent is not repeated: a header's value is the client's text.
        got = "this Content-Type is not accepted" if kind else "there is no Content-Type"
        raise problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"{got}; send `application/json` (or a type ending in `+json`)",
        )
    return media


async def decode_body(
    request: Request[Any, Any, Any], tp: type[T], limit: int, *, check_repeats: bool = True
) -> tuple[T, bytes, str]:
    """(the body decoded as `tp`, the body as read, its Content-Type): 415 when it is not
    JSON by its type, the refusals of `read_body` (at most `limit` bytes), 400 when it is not
    JSON, 422 listing every problem of a JSON body that is not a `tp`."""
    media = check_json(request)
    body = await read_body(request, limit)
    try:
        value, problems = decode(body, tp, check_repeats=check_repeats)
    except NotJson as exc:
        raise not_json(exc) from None
    if value is None or problems:
        raise invalid(problems)
    return value, body, media
