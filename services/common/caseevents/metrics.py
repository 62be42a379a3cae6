"""The case events counter both doors share: `fsi_case_events_total{via, kind, verdict}`."""

from __future__ import annotations

from prometheus_client import Counter

from schemas.caseevents import CaseEventKind
from services.common.caseevents.model import Refusal

APPLIED, REPEAT = "applied", "repeat"
# The unit an event names is not one its sender may speak for: over HTTP not among the
# client's `units`, over AMQP not the message's routing key.
UNIT_MISMATCH = "unit_mismatch"
# Every verdict a door counts: applied, repeat, each refusal, the mismatch.
VERDICTS: tuple[str, ...] = (APPLIED, REPEAT, *(r.value for r in Refusal), UNIT_MISMATCH)
# The kind label of a body that does not read as an event.
UNKNOWN_KIND = "unknown"

# One counter in the process's registry for both doors: the intake counts via="http", the
# router via="amqp". Registered here, once, because a process that imports both services
# (the tests' whole stack) would otherwise register the same name twice, which
# prometheus_client refuses at import.
case_events = Counter(
    "fsi_case_events",
    "Case events from the units, by door (`http`, `amqp`), kind and verdict: applied, repeat, "
    "or why refused (a refusal's code; unit_mismatch: a unit its sender may not speak for). "
    "A body that is no event counts as kind `unknown`, verdict invalid.",
    ["via", "kind", "verdict"],
)


def export_at_zero(via: str) -> None:
    """Export every series of door `via` (`http`, `amqp`) at 0 from the start: each kind (and
    `unknown`) with each verdict, so that an alert's `increase()` sees the first event."""
    for kind in (*(k.value for k in CaseEventKind), UNKNOWN_KIND):
        for verdict in VERDICTS:
            case_events.labels(via, kind, verdict)
