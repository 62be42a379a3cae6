"""A small report for the rule tests: a theft (strl-321) in Oslo the night before, reported
on 27 November 2026 at 10:00, made as a test needs it and standardised."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import msgspec

from schemas import reference
from schemas.report import Report
from services.common.standardise import Options, standardise

REF = reference.load()
_BODY: dict[str, Any] = {
    "external_id": "x",
    "reported_at": "2026-11-27T10:00:00+01:00",
    "incident": {
        "occurred_from": "2026-11-26T22:00:00+01:00",
        "description": "d",
        "municipality": "0301",
    },
    "offences": [{"code": "strl-321"}],
}


def standardised_report(now: dt.datetime, source: str = "test", **changes: Any) -> Report:
    """The report from `source` with `changes` (an `incident` is merged into its incident;
    `incident=None` leaves out its municipality), standardised at `now` (synthetic ids
    accepted)."""
    body = copy.deepcopy(_BODY) | {"source": source}
    incident = changes.pop("incident", {})
    if incident is None:
        del body["incident"]["municipality"]
    else:
        body["incident"].update(incident)
    body.update(changes)
    return standardise(msgspec.convert(body, Report), REF, now, Options(accept_synthetic_ids=True))
