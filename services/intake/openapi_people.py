"""The OpenAPI document's parts about people of the intake: their access token beside the
API key, which paths take which, and a report's history as it is shown."""

from __future__ import annotations

from typing import Any

# People of the intake call with the identity provider's access token (a JWT) instead of an
# API key: the work list and its dispositions take only that; a report's read takes either.
PERSON_SECURITY = "accessToken"
PERSON_SCHEME: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": (
        "`Authorization: Bearer <access token>` of the police's identity provider (OpenID "
        "Connect), for people of the intake (assessor, prosecutor)."
    ),
}
PEOPLE_ONLY = "/v1/triage"
CLIENT_OR_PERSON = frozenset({"/v1/reports/{report_id}"})


def security(path: str, api_key: str) -> list[dict[str, list[str]]]:
    """Who may call a `/v1/` path: an API client (`api_key`), a person, or either."""
    if path == PEOPLE_ONLY or path.startswith(f"{PEOPLE_ONLY}/"):
        return [{PERSON_SECURITY: []}]
    if path in CLIENT_OR_PERSON:
        return [{api_key: []}, {PERSON_SECURITY: []}]
    return [{api_key: []}]


def history(schemas: dict[str, Any], events: list[str], kinds: list[str]) -> None:
    """A report's history as it is shown: its event names and who can act (`timeline`); and
    a person's decision as a machine client sees it, without the person's subject id and
    reason (so `subject` is not always there)."""
    event = schemas.get("HistoryEvent", {}).get("properties")
    if event is not None:
        event["event"] = {"type": "string", "enum": events}
        event["reason"]["description"] = "The reason a person gave; null for a machine client."
    actor = schemas.get("Actor", {}).get("properties")
    if actor is not None:
        actor["kind"] = {"type": "string", "enum": kinds}
    decided_by = schemas.get("DecidedBy")
    if decided_by is not None:
        decided_by["required"] = [f for f in decided_by.get("required", []) if f != "subject"]
        decided_by["description"] = (
            f"{decided_by.get('description', '')} A machine client's view leaves out "
            "`subject` and `reason`."
        ).strip()
