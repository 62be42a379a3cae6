"""The health routes' answers in the OpenAPI document: /healthz, /readyz (200 and 503), /metrics."""

from __future__ import annotations

from typing import Any

import msgspec

from services.intake.openapi_schemas import REF


def _health_body(status: str, database: str) -> dict[str, Any]:
    schema = {
        "allOf": [
            {"$ref": REF.format(name="Health")},
            {"properties": {"status": {"const": status}, "database": {"const": database}}},
        ]
    }
    return {"application/json": {"schema": schema}}


# Every answer of the health routes (GET; HEAD the same without bodies), by path and status.
_HEALTH: dict[str, dict[str, dict[str, Any]]] = {
    "/healthz": {
        "200": {
            "description": "Alive: the process answers (nothing else is checked)",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"status": {"const": "alive"}},
                        "required": ["status"],
                    }
                }
            },
        }
    },
    "/readyz": {
        "200": {
            "description": (
                "Ready: PostgreSQL answered within 2 s. The broker is shown beside and never "
                "decides: reports wait in the outbox while it is down."
            ),
            "content": _health_body("ready", "up"),
        },
        "503": {
            "description": "Not ready: PostgreSQL did not answer within 2 s",
            "content": _health_body("not ready", "down"),
        },
    },
    "/metrics": {
        "200": {
            "description": (
                "This process's metrics in Prometheus' text format (each worker of "
                "FSI_HTTP_WORKERS has its own)"
            ),
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
}


def complete(paths: dict[str, Any]) -> None:
    """/healthz, /readyz and /metrics with every answer they give (Litestar knows only the
    200 of the handler's return type, not /readyz's 503 nor the metrics' text)."""
    for path, answers in _HEALTH.items():
        for operation in paths.get(path, {}).values():
            operation["responses"] = msgspec.json.decode(msgspec.json.encode(answers))
    readiness = paths.get("/readyz", {}).get("get")
    if readiness is not None:
        readiness["description"] = (
            "Whether this intake can accept reports: PostgreSQL decides (answered within "
            "2 s: 200, else 503); `broker` and `broker_problem` say what RabbitMQ is."
        )
    for operation in paths.get("/metrics", {}).values():
        operation["summary"] = "This process's metrics (Prometheus)"
