"""The OpenAPI document, completed with what Litestar cannot see: bodies read raw, the answers
each operation really gives (with their headers), the API key, one operation per source format;
and the router that serves it, where HEAD answers like GET as on every GET route of ours.

Handlers read their bodies themselves (to list every problem and keep the bytes as sent), so
Litestar does not know their shapes; they are added here from the msgspec contracts, made as
strict as the server is (`openapi_schemas`), with the RFC 9457 problem responses.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar, Router
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.handlers import HTTPRouteHandler
from litestar.types import ControllerRouterHandler

from schemas.decision import Deadline, Decision
from schemas.report import QualityIssue, Report
from schemas.sources import (
    AgencyParty,
    AgencyPeriod,
    AgencyReport,
    CitizenPerson,
    CitizenReport,
    PatrolPerson,
    PatrolReport,
)
from services.common import yamltext
from services.intake import openapi_health as health
from services.intake import openapi_people as people
from services.intake import openapi_schemas as refine
from services.intake import timeline
from services.intake.adapters import ADAPTERS
from services.intake.adapters.shared import MAPPINGS
from services.intake.api import Accepted
from services.intake.body import ACCEPT_ENCODING
from services.intake.cases import openapi as cases
from services.intake.validation import Problem

REF = refine.REF
SECURITY = "apiKey"
SOURCES = "/v1/sources/{format_name}/reports"


class _DocumentsRouter(Router):
    """Litestar's render plugins register their pages and files as GET only; here each such
    GET answers HEAD too: the same status and headers without the body (RFC 9110 section
    9.3.2; the server drops the body)."""

    def register(self, value: ControllerRouterHandler) -> list[Any]:
        if isinstance(value, HTTPRouteHandler) and value.http_methods == {"GET"}:
            value.http_methods = {"GET", "HEAD"}
        return super().register(value)


def documents_router(path: str) -> Router:
    """The router of the OpenAPI document and its renderings under `path` (`/schema`):
    OpenAPIConfig(openapi_router=...), left out of the document like Litestar's own."""
    return _DocumentsRouter(
        path, route_handlers=[], include_in_schema=False, dto=None, return_dto=None
    )


class ProblemDetails(msgspec.Struct):
    """RFC 9457 problem details; `errors` lists every problem of an invalid body."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[Problem] = []


def _header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": schema or {"type": "string"}}


_RETRY_AFTER = _header(
    "Seconds to wait before sending again.", {"type": "string", "pattern": "^[0-9]+$"}
)
_PROBLEM = {"application/problem+json": {"schema": {"$ref": REF.format(name="ProblemDetails")}}}
# Every answer an operation can give besides its success, by status; each is a problem.
_ANSWERS: dict[str, tuple[str, dict[str, Any]]] = {
    "400": ("Not JSON, not UTF-8, not what its Content-Encoding says, or cut short", {}),
    "401": (
        "No valid API key",
        {"WWW-Authenticate": _header('`Bearer realm="fsi-intake"`')},
    ),
    "403": ("Source, format or role not allowed for this client", {}),
    "408": ("The body did not arrive within the body timeout; the connection closes", {}),
    "409": ("Another report with this source and external_id was accepted", {}),
    "413": ("The body, as sent or once decoded, is over the limit; or too many batch items", {}),
    "415": (
        "Not `application/json`, or a Content-Encoding other than "
        f"{ACCEPT_ENCODING} (then `Accept-Encoding` lists those, RFC 7694)",
        {"Accept-Encoding": {**_header("The content codings read."), "required": False}},
    ),
    "422": ("Not a valid report: every problem with its JSON path", {}),
    "429": ("This client's rate limit is reached", {"Retry-After": _RETRY_AFTER}),
    "503": (
        "PostgreSQL cannot be reached: send the same request again",
        {"Retry-After": _RETRY_AFTER},
    ),
}
_POSTING = ["400", "401", "403", "408", "413", "415", "422", "429", "503"]
_READING = ["401", "403", "429", "503"]
_BODY_NOTE = (
    " The body may be sent with `Content-Encoding: gzip` or `deflate` (the size limit holds for "
    "the decoded body); a UTF-8 byte order mark is ignored; a key given twice in one object is "
    "a 422 naming its path."
)


def _problems(operation: dict[str, Any], statuses: list[str]) -> None:
    for status in statuses:
        text, headers = _ANSWERS[status]
        answer: dict[str, Any] = {"description": text, "content": _PROBLEM}
        if headers:
            answer["headers"] = headers
        operation["responses"][status] = answer


def _accepted(operation: dict[str, Any]) -> None:
    content = {"application/json": {"schema": {"$ref": REF.format(name="Accepted")}}}
    location = {"Location": _header("The report's address: `/v1/reports/<report_id>`.")}
    operation["responses"].pop("201", None)
    operation["responses"]["202"] = {
        "description": "Accepted: stored with its outbox row",
        "headers": location,
        "content": content,
    }
    operation["responses"]["200"] = {
        "description": "A repeat of an accepted report (same source, external_id and content)",
        "headers": location,
        "content": content,
    }


def _post(operation: dict[str, Any], schema: dict[str, Any], conflict: bool) -> None:
    operation["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": schema}},
    }
    operation["description"] = (operation.get("description", "") + _BODY_NOTE).strip()
    _problems(operation, [*_POSTING, "409"] if conflict else _POSTING)


def _source_operations(paths: dict[str, Any]) -> None:
    """One operation per source format, each with its own body schema, in the templated
    path's place (an unknown format is a 404, as for any other unknown path)."""
    template = paths.pop(SOURCES, {}).get("post")
    if template is None:
        return
    template.pop("parameters", None)
    for name, adapter in sorted(ADAPTERS.items()):
        operation = msgspec.json.decode(msgspec.json.encode(template))
        operation["operationId"] = f"Submit{name.capitalize()}Report"
        operation["summary"] = f"Submit one report in the `{name}` source format"
        _post(operation, {"$ref": REF.format(name=adapter.struct.__name__)}, conflict=True)
        _accepted(operation)
        paths[SOURCES.replace("{format_name}", name)] = {"post": operation}


def _source_codes(schemas: dict[str, Any]) -> None:
    """Codes the source formats' mappings know, as enums (others are a 422)."""
    patrol = yamltext.convert(
        yamltext.load_file(MAPPINGS / "patrol.yaml"), dict[str, Any], "patrol"
    )
    agency = yamltext.convert(
        yamltext.load_file(MAPPINGS / "agency.yaml"), dict[str, Any], "agency"
    )
    refine.enum_of(schemas, PatrolPerson.__name__, "r", list(patrol["roles"]))
    markers = schemas[PatrolReport.__name__]["properties"]["markers"]
    markers["items"] = {"type": "string", "enum": sorted(patrol["markers"])}
    refine.enum_of(schemas, AgencyParty.__name__, "rolle", list(agency["roles"]))
    # The form's own time forms, as strptime reads them (what a pattern cannot say, in words).
    citizen = schemas[CitizenReport.__name__]["properties"]
    for field in ("innsendt", "hendelse_fra", "hendelse_til"):
        citizen[field] = refine.replace_string(
            citizen[field],
            {
                "type": "string",
                "pattern": refine.LOCAL_TIME_FORM,
                "description": refine.LOCAL_TIME_FORM_TEXT,
            },
        )
    person = schemas[CitizenPerson.__name__]["properties"]
    person["fodselsdato"] = refine.replace_string(
        person["fodselsdato"],
        {
            "type": "string",
            "pattern": refine.LOCAL_DATE_FORM,
            "description": refine.LOCAL_DATE_FORM_TEXT,
        },
    )
    period = schemas[AgencyPeriod.__name__]["properties"]
    period["fra"] = {
        **period["fra"],
        "description": f"{refine.DAY_START_TEXT} {period['fra']['description']}",
    }


def complete(app: Litestar, max_batch_items: int = 1000) -> None:
    """Add bodies, answers, headers and security to the app's (cached) OpenAPI document."""
    document = app.plugins.get(OpenAPIPlugin).provide_openapi_schema()
    contracts = [
        Report,
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
    written = {Decision.__name__, Deadline.__name__}
    refine.times(schemas, [Report, CitizenReport, PatrolReport, AgencyReport, Decision], written)
    refine.offence_needs_code_or_label(schemas)
    _source_codes(schemas)
    refine.source_texts(schemas)
    refine.spelt_out_text(schemas)
    refine.read_only(schemas)
    _report_view(schemas)
    batch = refine.batch(schemas, max_batch_items)
    document["components"]["securitySchemes"] = {
        SECURITY: {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <api key>`; keys come with the clients file.",
        },
        people.PERSON_SECURITY: people.PERSON_SCHEME,
    }
    paths = document.get("paths", {})
    _source_operations(paths)
    health.complete(paths)
    cases.complete(paths, schemas)
    for path, item in paths.items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _operation(path, method, operation, batch)


def _operation(path: str, method: str, operation: dict[str, Any], batch: dict[str, Any]) -> None:
    if path.startswith("/v1/"):
        operation["security"] = people.security(path, SECURITY)
    if (path, method) == ("/v1/reports", "post"):
        _post(operation, {"$ref": REF.format(name=Report.__name__)}, conflict=True)
        _accepted(operation)
    elif (path, method) == ("/v1/reports/batch", "post"):
        _post(operation, batch, conflict=False)
        operation["responses"]["200"]["description"] = (
            "One result per item, in order, and a summary; invalid items hold back no others"
        )
    elif path.startswith("/v1/") and method in {"get", "head"}:
        _problems(operation, _READING)
        if path == "/v1/reports/{report_id}":
            operation["responses"]["401"]["description"] = "No valid API key or access token"
            operation["responses"]["403"]["description"] = (
                "A person without the assessor or prosecutor role"
            )
            operation["responses"]["404"] = {
                "description": "No such report for this client, or in this person's districts",
                "content": _PROBLEM,
            }
    if method == "head":
        # The answer to GET without its body (RFC 9110 section 9.3.2).
        for answer in operation["responses"].values():
            answer.pop("content", None)


def _report_view(schemas: dict[str, Any]) -> None:
    """A stored report is spliced in as raw JSON, which Litestar can only call "anything"
    (and `anything or null` matches null twice, breaking its `oneOf`): say what it is."""
    view = schemas.get("ReportView", {}).get("properties")
    if view is None:
        return
    # A report erased after closure (`erasure` set) reads `{}`, its issues code and path.
    view["report"] = {
        "anyOf": [
            {"$ref": REF.format(name=Report.__name__)},
            {"type": "object", "maxProperties": 0, "description": "erased after closure"},
        ]
    }
    erased_issue = {
        "type": "object",
        "properties": {"code": {"type": "string"}, "path": {"type": "string"}},
        "required": ["code", "path"],
        "description": "a quality issue of a report erased after closure: no message",
    }
    view["quality_issues"] = {
        "type": "array",
        "items": {"anyOf": [{"$ref": REF.format(name=QualityIssue.__name__)}, erased_issue]},
    }
    view["decision"] = {"anyOf": [{"$ref": REF.format(name=Decision.__name__)}, {"type": "null"}]}
    people.history(schemas, list(timeline.DETAILS), list(timeline.KINDS))
