"""The case events route in the OpenAPI document: its body (read raw by the handler, so
Litestar cannot see it) as strict as the server reads it, its path's id, its 201."""

from __future__ import annotations

from typing import Any

import msgspec

from schemas.caseevents import CaseEventBody, CaseEventKind, CaseOutcome, ReturnReason
from services.intake.openapi_schemas import DATE_TIME, REF

PATH = "/v1/cases/{report_id}/events"
_WITH_OUTCOME = [CaseEventKind.PROSECUTION_DECISION.value, CaseEventKind.CLOSED.value]


def _only_with(field: str, kinds: list[str], kind_schema: str) -> dict[str, Any]:
    """`field` is required (not null) for an event of `kinds`, and absent or null otherwise
    (`schemas.caseevents.field_problems`, in JSON Schema)."""
    return {
        "if": {"properties": {"kind": {"enum": kinds}}},
        "then": {
            "required": [field],
            "properties": {field: {"$ref": REF.format(name=kind_schema)}},
        },
        "else": {"properties": {field: {"type": "null"}}},
    }


def _body(schemas: dict[str, Any]) -> None:
    _, components = msgspec.json.schema_components([CaseEventBody], ref_template=REF)
    schemas.update(components)
    body = schemas[CaseEventBody.__name__]
    body["properties"]["occurred_at"] = {
        **DATE_TIME,
        "description": (
            "When it happened, RFC 3339 with an offset (a time without one is a 422); not "
            "later than now by more than two minutes (a 422: the clocks' skew allowed)."
        ),
    }
    body["allOf"] = [
        _only_with("reason", [CaseEventKind.RETURNED.value], ReturnReason.__name__),
        _only_with("outcome", _WITH_OUTCOME, CaseOutcome.__name__),
    ]


def complete(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Add the body, the path's id and the 201's words to `POST /v1/cases/{report_id}/events`
    (nothing when the document has no such operation)."""
    operation = paths.get(PATH, {}).get("post")
    if operation is None:
        return
    _body(schemas)
    operation["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": REF.format(name=CaseEventBody.__name__)}}
        },
    }
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "report_id":
            parameter["schema"] = {"type": "string", "format": "uuid"}
            parameter["description"] = (
                "The report's id (as its read, `GET /v1/reports/{report_id}`, and its case "
                "name it); another form is a 422 quoting it."
            )
    operation["responses"]["201"]["description"] = (
        "Applied: recorded, and the case changed (its deadline's state after it)"
    )
