"""Every column that can hold text, JSON or bytes is either blanked by erasure after closure
or known to hold none of a report's personal data: a new one fails here until it is put in
one list or the other (and, when personal, erased by migration 0017's function)."""

from __future__ import annotations

import asyncpg
import pytest

pytestmark = pytest.mark.integration

# What erasure blanks (the `erasures.erased` names; a JSON member by its path).
ERASED = {
    "reports.raw_body",
    "reports.report",
    "reports.quality_issues",  # messages only: code and path stay
    "report_versions.report",
    "report_versions.quality_issues",  # likewise
    "person_acts.reason",
    "person_acts.response",
    "person_decisions.decision",  # decided_by.reason only
    "outbox.payload",
}

# Columns that hold ids, codes, times, fixed texts, digests, the sender's reference, or an
# employee's subject id (the audit of who acted, kept by design): no personal data of a
# report's persons and no free text of anyone's.
FREE = {
    # Codes and ids of the cases and their events (reason, outcome: codes of
    # schemas.caseevents); the client is an API client id or a broker user.
    "case_deliveries.unit",
    "case_events.client",
    "case_events.digest",
    "case_events.kind",
    "case_events.outcome",
    "case_events.reason",
    "case_events.unit",
    "case_events.via",
    "person_case_deliveries.unit",
    "person_waiting_cases.unit",
    "waiting_cases.unit",
    "unit_cases.deadline_basis",
    "unit_cases.deadline_moment",
    "unit_cases.deadline_rule",
    "unit_cases.met_by",
    "unit_cases.outcome",
    "unit_cases.priority",
    "unit_cases.return_reason",
    "unit_cases.unit",
    # A dead letter's code and its one line, free of personal data by construction (0007).
    "dead_letters.code",
    "dead_letters.reason",
    # The rules' decision: unit, district, priority, deadline, rules (schemas.decision).
    "decisions.deadline_basis",
    "decisions.deadline_rule",
    "decisions.decision",
    "decisions.district",
    "decisions.matched_rules",
    "decisions.priority",
    "decisions.ruleset_version",
    "decisions.triage_reasons",
    "decisions.unit",
    "erasures.erased",
    # Sign-in sessions: token digests, subject ids of employees, their grants.
    "operator_sessions.credential",
    "operator_sessions.end_reason",
    "operator_sessions.grants",
    "operator_sessions.subject",
    "operator_sessions.token_sha256",
    # The outbox row's routing and the relay's fixed error text.
    "outbox.last_error",
    "outbox.message_type",
    "outbox.routing_key",
    "outbox.source_format",
    # An act: who (subject id, role), its kind, its details (codes and ids: the fields a
    # correction changed by name, units, districts, an authority's name and organisation
    # number for a transfer out), the retry key.
    "person_acts.actor",
    "person_acts.actor_role",
    "person_acts.details",
    "person_acts.idempotency_key",
    "person_acts.kind",
    "person_decisions.decided_by",
    "person_decisions.decided_role",
    "person_decisions.district",
    "person_decisions.priority",
    "person_decisions.ruleset_version",
    "person_decisions.unit",
    # The report's envelope: the API client, the source, the sender's reference, the
    # content's digest (kept so a repeat is still answered as one), the message's digest.
    "reports.client_id",
    "reports.content_hash",
    "reports.external_id",
    "reports.message_sha256",
    "reports.raw_content_type",
    "reports.source",
    "reports.source_format",
    "rule_loads.catalogue",
    "rule_loads.error",
    "rule_loads.outcome",
    "rule_loads.router",
    "rule_loads.version",
    "schema_migrations.checksum",
    "schema_migrations.name",
    # The work list's state: codes, the claimant's subject id.
    "work_items.claim_role",
    "work_items.claimed_by",
    "work_items.detail",
    "work_items.district",
    "work_items.outcome",
    "work_items.priority",
    "work_items.reason",
    "work_items.source",
    "work_items.state",
}

_COLUMNS = """
SELECT table_name || '.' || column_name
FROM information_schema.columns
WHERE table_schema = current_schema()
  AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea',
                    'ARRAY', 'USER-DEFINED', 'xml')
"""


async def test_every_column_that_can_hold_text_is_erased_or_known_free(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        columns = {r[0] for r in await conn.fetch(_COLUMNS)}
    finally:
        await conn.close()
    assert not ERASED & FREE
    unknown = sorted(columns - ERASED - FREE)
    assert unknown == [], (
        f"columns neither erased after closure nor known free of personal data: {unknown}; "
        "add each to ERASED (and to erase_after_closure, migration 0017 or later) or FREE"
    )
    assert sorted((ERASED | FREE) - columns) == []  # no stale entries
