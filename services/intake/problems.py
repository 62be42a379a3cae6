"""RFC 9457 problem details: the problems the intake raises (a type URI of ours, a title, a
detail) and the app's exception handlers, which answer every other failure the same way."""

from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.status_codes import HTTP_503_SERVICE_UNAVAILABLE

from services.common.logging import get_logger
from services.common.text import quoted
from services.intake import metrics
from services.intake.validation import NotJson, Problem

log = get_logger("api")
PROBLEM_BASE = "https://fsi-intake.politiet.example/problems/"
# What a client is told to send when its key is missing or not known.
BEARER = {"WWW-Authenticate": 'Bearer realm="fsi-intake"'}


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemDetailsException:
    """An RFC 9457 problem (raised; the problem details plugin renders it)."""
    return ProblemDetailsException(
        status_code=status,
        type_=PROBLEM_BASE + slug,
        title=title,
        detail=detail,
        headers=headers,
        extra=extra or None,
    )


def too_large(limit: int) -> ProblemDetailsException:
    """413: the body (as sent, or once its content coding is undone) passes `limit` bytes."""
    return problem(413, "too-large", "Request body too large", f"at most {limit} bytes")


def unauthenticated(whose: str = "") -> ProblemDetailsException:
    """401: no API key, or one no client has; `whose` says which clients' key is wanted."""
    detail = "send `Authorization: Bearer <api key>`" + (f" of {whose}" if whose else "")
    return problem(401, "unauthenticated", "Not authenticated", detail, headers=BEARER)


def not_operator() -> ProblemDetailsException:
    """403: the client is known but is not an operator."""
    return problem(403, "forbidden-role", "Operators only", "this client is not an operator")


def rate_limited(
    wait: float, why: str = "this client's rate limit is reached"
) -> ProblemDetailsException:
    """429: the client's rate cannot pay now; `wait` seconds until it can (at least 1 s in
    `Retry-After`, a whole number)."""
    return problem(
        429,
        "rate-limited",
        "Too many requests",
        f"{why}; retry in {math.ceil(wait)} s",
        headers={"Retry-After": str(max(1, math.ceil(wait)))},
    )


def forbidden_format(name: str) -> ProblemDetailsException:
    """403: the client may not send reports in the format `name`."""
    return problem(
        403, "forbidden-format", "Format not allowed", f"this client may not send `{name}` reports"
    )


def forbidden_source(source: str) -> ProblemDetailsException:
    """403: the client may not submit for `source`."""
    return problem(
        403,
        "forbidden-source",
        "Source not allowed",
        f"this client may not submit for source `{source}`",
    )


def invalid(problems: list[Problem]) -> ProblemDetailsException:
    """422: not a valid report, every problem listed with its JSON path in `errors`."""
    return problem(
        422,
        "invalid-report",
        "The report is not valid",
        f"{len(problems)} problem(s) found",
        errors=[msgspec.to_builtins(p) for p in problems],
    )


def not_json(exc: NotJson) -> ProblemDetailsException:
    """400: the body is not JSON (the reason says where)."""
    return problem(400, "malformed-json", "The body is not JSON", str(exc))


def batch_too_large(max_items: int) -> ProblemDetailsException:
    """413: more reports in one batch than `max_items`."""
    return problem(
        413,
        "batch-too-large",
        "Too many reports in one batch",
        f"at most {max_items} reports per batch",
    )


async def count_refusal(exc: Exception, scope: Any) -> None:
    """Litestar `after_exception` hook: a submission that ended in a problem before its
    outcome was counted: `invalid` for a body that could not be read as a report, `refused`
    for everything else the client must change (auth, format, size, media type, rate)."""
    state = scope.get("state", {})
    status = getattr(exc, "status_code", 500)
    if scope.get("method") != "POST" or state.get("fsi_counted") or status >= 500:
        return
    if scope.get("path", "").startswith(("/v1/reports", "/v1/sources/")):
        result = "invalid" if status in {400, 422} else "refused"
        named = scope["app"].state.intake.clients.named_sources
        metrics.report(state.get("fsi_source"), result, named)


def database_unavailable(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[dict[str, Any]]:
    """PostgreSQL cannot be reached: the client sends the same request again (a report
    that was stored after all is answered as a repeat)."""
    log.warning("database unavailable", path=request.url.path, error=type(exc).__name__)
    return problem(
        HTTP_503_SERVICE_UNAVAILABLE,
        "database-unavailable",
        "Database unavailable",
        "send the same request again later; a report already stored is recognised",
        headers={"Retry-After": "5"},
    ).to_response(request)


# Where Litestar found a parameter it could not read, in a problem's words; a value is quoted
# back only from the query and the path (a header's or a cookie's is the client's text).
_PARAMETER_IN = {"query": "query parameter", "path": "path parameter", "header": "header"}
_QUOTED_IN = {"query", "path"}


def _parameter_values(request: Request[Any, Any, Any], name: str, where: str) -> list[str]:
    if where == "query":
        return list(request.query_params.getall(name, []))
    if where == "path":
        value = request.scope.get("path_params", {}).get(name)
        return [] if value is None else [str(value)]
    return []


def _parameter_error(request: Request[Any, Any, Any], found: Any) -> dict[str, Any] | None:
    """One of Litestar's parameter validation errors (`{message, key, source}`) as an entry
    of the problem's `errors`: the parameter, where it is, what is wrong, the value sent (cut
    by `quoted`); None when it is not about a parameter."""
    if not isinstance(found, dict) or not isinstance(found.get("key"), str):
        return None
    where = str(getattr(found.get("source"), "value", found.get("source")))
    if where not in _PARAMETER_IN:
        return None
    name: str = found["key"]
    # msgspec names the handler's type (`int | null`): the value's absence is no error here.
    message = str(found.get("message", "invalid")).replace(" | null", "")
    message = message.replace("Expected `bool`", "Expected `true` or `false`")
    error: dict[str, Any] = {"parameter": name, "in": where, "message": message}
    values = _parameter_values(request, name, where) if where in _QUOTED_IN else []
    if values:
        error["value"] = ", ".join(quoted(v) for v in values[:3])
    return error


def parameter_error(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]] | None:
    """400 `invalid-parameter`: a query, path or header parameter Litestar could not read as
    its type, each named in `errors` with what is wrong and (query, path) the value quoted;
    None when the refusal is not about parameters. The request's URL is never repeated."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = [e for e in (_parameter_error(request, found) for found in extra) if e]
    if not errors or len(errors) != len(extra):
        return None
    detail = "; ".join(
        f"{_PARAMETER_IN[e['in']]} `{e['parameter']}`"
        + (f" = {e['value']}" if "value" in e else "")
        + f": {e['message']}"
        for e in errors
    )
    return problem(
        400, "invalid-parameter", "A parameter cannot be used", detail, errors=errors
    ).to_response(request)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    """Litestar's own refusals (no such route, a method not allowed, a body past the server's
    limit, an unreadable form, a parameter of the wrong type) as problems like every other,
    with a type and what is wrong."""
    if isinstance(exc, ValidationException) and (answer := parameter_error(request, exc)):
        return answer
    status = exc.status_code
    # The path is not echoed: a client may have put personal data in it.
    if status == 404:
        detail = "no such path, or a path parameter of the wrong form; the API is at /schema"
    elif status == 405:
        allowed = (exc.headers or {}).get("allow", "")
        detail = f"`{request.method}` is not allowed on this path (allowed: {allowed})"
    elif isinstance(exc, ValidationException):
        # Litestar's detail repeats the URL with its query: not echoed either.
        detail = "the request's parameters could not be read as sent (see `extra`)"
    else:
        detail = exc.detail
    extra = exc.extra if isinstance(exc.extra, dict) else {"extra": exc.extra} if exc.extra else {}
    return ProblemDetailsException(
        status_code=status,
        type_="about:blank",
        title=HTTPStatus(status).phrase,
        detail=detail,
        headers=exc.headers,
        extra=extra or None,
    ).to_response(request)


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    """Anything unforeseen: logged without its message, answered without details."""
    log.error("unhandled error", path=request.url.path, exc_info=exc)
    return problem(
        500, "internal", "Internal error", "an unexpected error occurred and was logged"
    ).to_response(request)
