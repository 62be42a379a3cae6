-- Case follow-up: the cases the units hold, with their deadlines, and the events the units
-- report about them (schemas.caseevents).
--
-- `unit_cases` has one row per case a unit queue confirmed (a rules' case: its id is the
-- report id; a person's case: the deciding act's id), made by the confirmation itself (a
-- trigger on `case_deliveries` and `person_case_deliveries`), so no path can route a case
-- without it. It is the case's current state, derived from the events and changed by them
-- in the same transaction; the deadline the case carries is copied from its decision with
-- the events that meet it (`met_by`). It holds ids, codes and times only: no personal data.
--
-- `case_events` is append-only for every role: what each unit said, when, by which client
-- and over which door (HTTP or AMQP).

CREATE TABLE unit_cases (
    case_id          uuid        PRIMARY KEY,
    report_id        uuid        NOT NULL REFERENCES reports (id),
    unit             text        NOT NULL,
    priority         text        NOT NULL CHECK (priority IN ('critical', 'high', 'normal', 'low')),
    -- When the unit's queue confirmed the case: routed means confirmed.
    routed_at        timestamptz NOT NULL,
    received_at      timestamptz,
    returned_at      timestamptz,
    return_reason    text,
    closed_at        timestamptz,
    outcome          text,
    last_event_at    timestamptz,
    -- The deadline the case carries (NULL: none): when it is due, from which moment the rule
    -- counted (`arrest`, `report`, ...) and when that was, its legal basis and rule, and the
    -- event kinds that meet it. `met_at` is the time of the earliest such event, `met_event`
    -- its id.
    due_at           timestamptz,
    deadline_moment  text,
    deadline_from    timestamptz,
    deadline_basis   text,
    deadline_rule    text,
    met_by           text[]      NOT NULL DEFAULT '{}',
    met_at           timestamptz,
    met_event        uuid,
    updated_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((return_reason IS NULL) = (returned_at IS NULL)),
    CHECK ((outcome IS NULL) = (closed_at IS NULL)),
    CHECK ((met_at IS NULL) = (met_event IS NULL))
);

-- A unit holds a report's case until it returns it: at most one held case per report and
-- unit (a confirmation repeated, or a person's case to the unit that already holds it, adds
-- nothing).
CREATE UNIQUE INDEX unit_cases_held ON unit_cases (report_id, unit) WHERE returned_at IS NULL;
CREATE INDEX unit_cases_report ON unit_cases (report_id, routed_at);
-- The operations figures, read every few seconds: deadlines not met (open or missed) by
-- unit and due time; deadlines that fell due, by due time (the share met on time); cases
-- their unit has not received yet, by when they were routed.
CREATE INDEX unit_cases_deadline_unmet ON unit_cases (unit, due_at)
    WHERE due_at IS NOT NULL AND met_at IS NULL AND returned_at IS NULL;
CREATE INDEX unit_cases_deadline_due ON unit_cases (due_at) INCLUDE (unit, met_at, returned_at)
    WHERE due_at IS NOT NULL;
CREATE INDEX unit_cases_not_received ON unit_cases (routed_at) INCLUDE (unit)
    WHERE received_at IS NULL AND returned_at IS NULL AND closed_at IS NULL;

CREATE TABLE case_events (
    event_id     uuid        PRIMARY KEY,
    case_id      uuid        NOT NULL REFERENCES unit_cases (case_id),
    report_id    uuid        NOT NULL REFERENCES reports (id),
    unit         text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN (
                     'received', 'returned', 'interview_held', 'brought_before_court',
                     'released', 'prosecution_decision', 'closed')),
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason       text,
    outcome      text,
    -- Who said it: the API client's id (HTTP) or the broker user (AMQP), and the door.
    client       text        NOT NULL,
    via          text        NOT NULL CHECK (via IN ('http', 'amqp')),
    -- SHA-256 of the event as the unit sent it (its canonical JSON): the same id with the
    -- same digest is a repeat, with another a conflict.
    digest       bytea       NOT NULL
);

CREATE INDEX case_events_report ON case_events (report_id, occurred_at);
CREATE INDEX case_events_case ON case_events (case_id, occurred_at);

CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER case_events_no_change BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_append_only();
CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
    FOR EACH STATEMENT EXECUTE FUNCTION case_events_append_only();

-- A confirmed case to a unit (not to triage) becomes a held case, with its decision's
-- priority and deadline. The decision is the rules' (`decisions`, keyed by report) for
-- `case_deliveries`, a person's (`person_decisions`, keyed by act) for
-- `person_case_deliveries`; both store the decision as the case carries it
-- (schemas.decision.Decision), whose `deadline` has `due_at`, `basis`, `rule_id`, `moment`
-- and `met_by`.
CREATE FUNCTION unit_case_from_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    the_case  uuid;
    decided   jsonb;
    prio      text;
    deadline  jsonb;
BEGIN
    IF NEW.unit = 'triage' THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'case_deliveries' THEN
        the_case := NEW.report_id;
        SELECT decision, priority INTO decided, prio
        FROM decisions WHERE report_id = NEW.report_id;
    ELSE
        the_case := NEW.decision_id;
        SELECT decision, priority INTO decided, prio
        FROM person_decisions WHERE id = NEW.decision_id;
    END IF;
    -- No case is published without its decision stored first; a confirmation without one
    -- (a row made by hand) holds no case rather than failing the router's whole batch of
    -- confirmations, which it would retry and fail again.
    IF decided IS NULL THEN
        RETURN NULL;
    END IF;
    deadline := decided -> 'deadline';
    -- A deadline naming no events that meet it (a decision from before `met_by`, e.g. by a
    -- router not yet upgraded) could never be met: taken without it, as the cases below are,
    -- rather than shown as missed for want of a vocabulary.
    -- (`->` of anything but an object is NULL.)
    IF jsonb_typeof(deadline -> 'met_by') IS DISTINCT FROM 'array'
       OR deadline -> 'met_by' = '[]'::jsonb THEN
        deadline := NULL;
    END IF;
    INSERT INTO unit_cases (case_id, report_id, unit, priority, routed_at, due_at,
                            deadline_moment, deadline_from, deadline_basis, deadline_rule,
                            met_by)
    VALUES (the_case, NEW.report_id, NEW.unit, prio, NEW.confirmed_at,
            (deadline ->> 'due_at')::timestamptz,
            deadline ->> 'moment',
            (deadline ->> 'counted_from')::timestamptz,
            deadline ->> 'basis',
            deadline ->> 'rule_id',
            coalesce(ARRAY(SELECT jsonb_array_elements_text(deadline -> 'met_by')), '{}'))
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER case_deliveries_unit_case AFTER INSERT ON case_deliveries
    FOR EACH ROW EXECUTE FUNCTION unit_case_from_delivery();
CREATE TRIGGER person_case_deliveries_unit_case AFTER INSERT ON person_case_deliveries
    FOR EACH ROW EXECUTE FUNCTION unit_case_from_delivery();

-- Cases confirmed before this migration are held by their units from now on. Their
-- decisions name no events that meet their deadlines, so no event could ever meet them: they
-- are taken without the deadline rather than shown as missed for want of a vocabulary.
INSERT INTO unit_cases (case_id, report_id, unit, priority, routed_at)
SELECT c.report_id, c.report_id, c.unit, d.priority, c.confirmed_at
FROM case_deliveries c JOIN decisions d ON d.report_id = c.report_id AND d.unit = c.unit
WHERE c.unit <> 'triage'
UNION ALL
SELECT c.decision_id, c.report_id, c.unit, d.priority, c.confirmed_at
FROM person_case_deliveries c JOIN person_decisions d ON d.id = c.decision_id
WHERE c.unit <> 'triage'
ON CONFLICT DO NOTHING;

-- Both doors apply events (the intake over HTTP, the router over AMQP) with the same code
-- (services.common.caseevents); a return puts the report back on the work list.
-- Only the router's confirmations make held cases (the trigger above runs as the router).
GRANT SELECT, INSERT ON case_events TO fsi_intake, fsi_router;
GRANT SELECT ON unit_cases TO fsi_intake;
GRANT SELECT, INSERT ON unit_cases TO fsi_router;
GRANT UPDATE (received_at, returned_at, return_reason, closed_at, outcome, last_event_at,
              met_at, met_event, updated_at)
    ON unit_cases TO fsi_intake, fsi_router;
GRANT SELECT ON decisions TO fsi_router;
GRANT UPDATE (district, reason, detail, priority, priority_rank, deadline_at, waiting_since,
              state, claimed_by, claim_role, claim_token, lease_until, pending_act, outcome,
              updated_at)
    ON work_items TO fsi_router;
