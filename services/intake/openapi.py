"""The OpenAPI document, completed with what Litestar cannot see: request bodies read raw.

Handlers read their bodies themselves (to list every problem and keep the bytes as sent),
so Litestar does not know their shapes; they are added here from the msgspec contracts,
with the RFC 9457 problem responses.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Litestar
from litestar._openapi.plugin import OpenAPIPlugin
from msgspec import Meta

from schemas.report import Report
from schemas.sources import AgencyReport, CitizenReport, PatrolReport
from services.intake.api import Accepted
from services.intake.validation import Problem

REF = "#/components/schemas/{name}"


class Batch(msgspec.Struct):
    """Up to 1,000 canonical reports; each is judged on its own."""

    reports: Annotated[list[Report], Meta(min_length=1, max_length=1000)]


class ProblemDetails(msgspec.Struct):
    """RFC 9457 problem details; `errors` lists every problem of an invalid body."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[Problem] = []


_PROBLEMS = {
    "400": "Not JSON",
    "401": "No valid API key",
    "403": "Source or format not allowed for this client",
    "409": "Another report with this source and external_id was accepted",
    "413": "Body too large",
    "415": "Not application/json",
    "422": "Not a valid report: every problem with its JSON path",
    "429": "Rate limit reached; see Retry-After",
}

_BODIES: dict[tuple[str, str], list[type[msgspec.Struct]]] = {
    ("/v1/reports", "post"): [Report],
    ("/v1/reports/batch", "post"): [Batch],
    ("/v1/sources/{format_name}/reports", "post"): [CitizenReport, PatrolReport, AgencyReport],
}


_ANSWERED_WITH_ACCEPTED = {
    ("/v1/reports", "post"),
    ("/v1/sources/{format_name}/reports", "post"),
}


def _body(types: list[type[msgspec.Struct]]) -> dict[str, Any]:
    refs = [{"$ref": REF.format(name=t.__name__)} for t in types]
    schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def complete(app: Litestar) -> None:
    """Add request bodies and problem responses to the app's (cached) OpenAPI document."""
    document = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    contracts = [Report, Batch, CitizenReport, PatrolReport, AgencyReport, ProblemDetails, Accepted]
    _, components = msgspec.json.schema_components(contracts, ref_template=REF)
    document.setdefault("components", {}).setdefault("schemas", {}).update(components)
    problem = {"application/problem+json": {"schema": {"$ref": REF.format(name="ProblemDetails")}}}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if (path, method) in _BODIES:
                operation["requestBody"] = _body(_BODIES[(path, method)])
            if (path, method) in _ANSWERED_WITH_ACCEPTED:
                accepted = {"application/json": {"schema": {"$ref": REF.format(name="Accepted")}}}
                operation["responses"]["202"] = {"description": "Accepted", "content": accepted}
                operation["responses"]["200"] = {
                    "description": "A repeat of an accepted report: the same answer",
                    "content": accepted,
                }
            if path.startswith("/v1/"):
                for status, text in _PROBLEMS.items():
                    operation["responses"][status] = {"description": text, "content": problem}
