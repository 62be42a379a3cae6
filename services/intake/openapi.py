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

from schemas.decision import Decision
from schemas.report import QualityIssue, Report
from schemas.sources import AgencyReport, CitizenReport, PatrolReport
from services.intake.adapters import ADAPTERS
from services.intake.api import Accepted
from services.intake.validation import Problem

REF = "#/components/schemas/{name}"


class Batch(msgspec.Struct, forbid_unknown_fields=True):
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
    "408": "The body did not arrive within the body timeout",
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


# Where a 404 is an answer, not a wrong address.
_NOT_FOUND = {
    ("/v1/reports/{report_id}", "get"): "No such report for this client",
    ("/v1/sources/{format_name}/reports", "post"): "Unknown source format",
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
    contracts = [
        Report,
        Batch,
        CitizenReport,
        PatrolReport,
        AgencyReport,
        ProblemDetails,
        Accepted,
        Decision,
    ]
    _, components = msgspec.json.schema_components(contracts, ref_template=REF)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(components)
    _report_view(schemas)
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
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "format_name":
                    parameter["schema"] = {"type": "string", "enum": sorted(ADAPTERS)}
            if (path, method) in _NOT_FOUND:
                text = _NOT_FOUND[(path, method)]
                operation["responses"]["404"] = {"description": text, "content": problem}
    _metrics_as_text(document)


def _report_view(schemas: dict[str, Any]) -> None:
    """A stored report is spliced in as raw JSON, which Litestar can only call "anything"
    (and `anything or null` matches null twice, breaking its `oneOf`): say what it is."""
    view = schemas.get("ReportView", {}).get("properties")
    if view is None:
        return
    view["report"] = {"$ref": REF.format(name=Report.__name__)}
    view["quality_issues"] = {
        "type": "array",
        "items": {"$ref": REF.format(name=QualityIssue.__name__)},
    }
    view["decision"] = {"anyOf": [{"$ref": REF.format(name=Decision.__name__)}, {"type": "null"}]}


def _metrics_as_text(document: dict[str, Any]) -> None:
    """`/metrics` answers in Prometheus' text format, not the JSON Litestar assumes."""
    ok = document.get("paths", {}).get("/metrics", {}).get("get", {}).get("responses", {})
    if "200" in ok:
        ok["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
