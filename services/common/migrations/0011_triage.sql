-- The people's half: reports waiting for a person (the work list), every act of a person
-- (the audit), corrected versions of a report, and the cases a person's decision sends to a
-- unit, which leave through the outbox like every other case.
--
-- `person_acts`, `report_versions`, `person_decisions` and `person_case_deliveries` are
-- append-only for every role (row and statement triggers, as for `decisions`). `work_items`
-- is the list's current state, derived from the acts and changed by them in the same
-- transaction; it holds no free text and no personal data beyond the subject ids of the
-- persons who claim (the identity provider's `sub`, never a name).

CREATE TABLE person_acts (
    id              uuid        PRIMARY KEY,
    report_id       uuid        NOT NULL REFERENCES reports (id),
    kind            text        NOT NULL CHECK (kind IN (
                        'claimed', 'released', 'corrected', 'routed', 'transferred', 'linked',
                        'closure_proposed', 'closure_approved', 'closure_rejected',
                        'transfer_approved', 'transfer_rejected', 'downgrade_reviewed')),
    -- The person: the identity provider's subject id, and the role they acted in.
    actor           text        NOT NULL,
    actor_role      text        NOT NULL CHECK (actor_role IN ('assessor', 'prosecutor')),
    acted_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason          text,
    -- What the act did, by kind: the fields a correction changed (names, never values), the
    -- unit, priority and deadline of a route, the district or organisation a transfer went
    -- to, the report linked to, the closure ground, the act a decision on a proposal answers.
    details         jsonb       NOT NULL DEFAULT '{}',
    -- A retry with the same key (per person) is answered from here and changes nothing.
    idempotency_key text,
    response        jsonb,
    CONSTRAINT person_acts_idempotency UNIQUE (actor, idempotency_key)
);

CREATE INDEX person_acts_report ON person_acts (report_id, acted_at);
-- The prosecutors' review list: proposals and downgrades by when they were made.
CREATE INDEX person_acts_for_review ON person_acts (acted_at)
    WHERE kind IN ('closure_proposed', 'transferred', 'corrected');

CREATE TABLE report_versions (
    report_id      uuid        NOT NULL REFERENCES reports (id),
    -- Version 1 is the report as accepted (in `reports`); corrections are 2, 3, ...
    version        integer     NOT NULL CHECK (version >= 2),
    report         jsonb       NOT NULL,
    quality_issues jsonb       NOT NULL DEFAULT '[]',
    act_id         uuid        NOT NULL REFERENCES person_acts (id),
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (report_id, version)
);

CREATE TABLE work_items (
    report_id       uuid        PRIMARY KEY REFERENCES reports (id),
    -- NULL: no district could be placed (unknown municipality); every assessor sees it.
    district        text,
    source          text        NOT NULL,
    -- Why it waits, as a fixed code; `detail` a code too (the rule id for `rule`).
    reason          text        NOT NULL CHECK (reason IN (
                        'rule', 'quality_issues', 'no_district', 'returned', 'transferred',
                        'closure_rejected', 'transfer_rejected')),
    detail          text,
    priority        text        NOT NULL CHECK (priority IN ('critical', 'high', 'normal', 'low')),
    priority_rank   smallint    NOT NULL,
    deadline_at     timestamptz,
    received_at     timestamptz NOT NULL,
    waiting_since   timestamptz NOT NULL,
    version         integer     NOT NULL DEFAULT 1,
    -- waiting: on the work list; proposed: a closure or transfer out of the police waits
    -- for a prosecutor; done: decided (routed, transferred to a unit, linked, closed).
    state           text        NOT NULL DEFAULT 'waiting'
                        CHECK (state IN ('waiting', 'proposed', 'done')),
    claimed_by      text,
    claim_role      text,
    claim_token     uuid,
    lease_until     timestamptz,
    first_action_at timestamptz,
    -- The proposal waiting for a prosecutor (state `proposed`).
    pending_act     uuid        REFERENCES person_acts (id),
    outcome         text,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK ((claimed_by IS NULL) = (claim_token IS NULL) AND (claim_token IS NULL) = (lease_until IS NULL))
);

-- The work list, most urgent first: nearest deadline (none last), priority, age.
CREATE INDEX work_items_waiting ON work_items
    ((coalesce(deadline_at, 'infinity'::timestamptz)), priority_rank DESC, received_at, report_id)
    WHERE state = 'waiting';
CREATE INDEX work_items_waiting_district ON work_items (district) WHERE state = 'waiting';
CREATE INDEX work_items_proposed ON work_items (updated_at) WHERE state = 'proposed';

CREATE TABLE person_decisions (
    -- The act that decided (a route, a transfer to a unit, a link, or a correction the rules
    -- then routed): one case per decision, published with this id as its message id.
    id              uuid        PRIMARY KEY REFERENCES person_acts (id),
    report_id       uuid        NOT NULL REFERENCES reports (id),
    version         integer     NOT NULL,
    unit            text        NOT NULL,
    district        text,
    priority        text        NOT NULL CHECK (priority IN ('critical', 'high', 'normal', 'low')),
    amqp_priority   smallint    NOT NULL,
    deadline_at     timestamptz,
    decided_by      text        NOT NULL,
    decided_role    text        NOT NULL,
    ruleset_version text        NOT NULL,
    decided_at      timestamptz NOT NULL,
    -- The whole decision as the case carries it (schemas.decision.PersonDecision).
    decision        jsonb       NOT NULL
);

CREATE INDEX person_decisions_report ON person_decisions (report_id, decided_at);

CREATE TABLE person_case_deliveries (
    decision_id  uuid        PRIMARY KEY REFERENCES person_decisions (id),
    report_id    uuid        NOT NULL REFERENCES reports (id),
    unit         text        NOT NULL,
    confirmed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX person_case_deliveries_report ON person_case_deliveries (report_id);

-- A person's decision is announced by an outbox row of its own (message type
-- `case.decided`), beside the report's own row: one row per report as accepted, one per
-- decision.
ALTER TABLE outbox ADD COLUMN decision_id uuid REFERENCES person_decisions (id);
DROP INDEX outbox_report_id;
CREATE UNIQUE INDEX outbox_report_id ON outbox (report_id) WHERE decision_id IS NULL;
CREATE UNIQUE INDEX outbox_decision_id ON outbox (decision_id) WHERE decision_id IS NOT NULL;

CREATE FUNCTION person_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER person_acts_no_change BEFORE UPDATE OR DELETE ON person_acts
    FOR EACH ROW EXECUTE FUNCTION person_audit_append_only();
CREATE TRIGGER person_acts_no_truncate BEFORE TRUNCATE ON person_acts
    FOR EACH STATEMENT EXECUTE FUNCTION person_audit_append_only();
CREATE TRIGGER report_versions_no_change BEFORE UPDATE OR DELETE ON report_versions
    FOR EACH ROW EXECUTE FUNCTION person_audit_append_only();
CREATE TRIGGER report_versions_no_truncate BEFORE TRUNCATE ON report_versions
    FOR EACH STATEMENT EXECUTE FUNCTION person_audit_append_only();
CREATE TRIGGER person_decisions_no_change BEFORE UPDATE OR DELETE ON person_decisions
    FOR EACH ROW EXECUTE FUNCTION person_audit_append_only();
CREATE TRIGGER person_decisions_no_truncate BEFORE TRUNCATE ON person_decisions
    FOR EACH STATEMENT EXECUTE FUNCTION person_audit_append_only();
CREATE TRIGGER person_case_deliveries_no_change BEFORE UPDATE OR DELETE ON person_case_deliveries
    FOR EACH ROW EXECUTE FUNCTION person_audit_append_only();
CREATE TRIGGER person_case_deliveries_no_truncate BEFORE TRUNCATE ON person_case_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION person_audit_append_only();

-- Reports the rules sent to triage before this migration, whose case the triage queue
-- confirmed: they wait for a person. Decisions name a district by its catalogue name; the
-- work list (and people's districts claim) by its slug, which for the catalogue's twelve
-- districts (deploy/routing/units.yaml) is the name in lower case, spaces as hyphens and
-- ø/æ/å as o/a/a ("Sør-Øst" is `sor-ost`). Which rule sent a report there is not known
-- without the rule set that decided it, so the rule is left out (`detail` NULL).
INSERT INTO work_items (report_id, district, source, reason, detail, priority, priority_rank,
                        deadline_at, received_at, waiting_since)
SELECT d.report_id,
       lower(translate(replace(d.district, ' ', '-'), 'øæåØÆÅ', 'oaaoaa')),
       r.source,
       CASE WHEN d.district IS NULL THEN 'no_district'
            WHEN jsonb_array_length(r.quality_issues) > 0 THEN 'quality_issues'
            ELSE 'rule' END,
       NULL,
       d.priority,
       CASE d.priority WHEN 'critical' THEN 3 WHEN 'high' THEN 2 WHEN 'normal' THEN 1 ELSE 0 END,
       d.deadline_at, r.received_at, c.confirmed_at
FROM decisions d
JOIN reports r ON r.id = d.report_id
JOIN case_deliveries c ON c.report_id = d.report_id AND c.unit = 'triage'
WHERE d.unit = 'triage';

-- The intake: the work list and the people's acts, versions and decisions (never changing
-- what is append-only); whether a person's case was delivered.
GRANT SELECT, INSERT ON person_acts, report_versions, person_decisions TO fsi_intake;
GRANT SELECT, INSERT ON work_items TO fsi_intake;
GRANT UPDATE (district, reason, detail, priority, priority_rank, deadline_at, waiting_since,
              version, state, claimed_by, claim_role, claim_token, lease_until,
              first_action_at, pending_act, outcome, updated_at)
    ON work_items TO fsi_intake;
GRANT SELECT ON person_case_deliveries TO fsi_intake;

-- The router: a triage case its queue confirmed waits for a person (a row of its own);
-- a person's decision is read, published and its delivery recorded.
GRANT SELECT, INSERT ON work_items TO fsi_router;
GRANT SELECT ON person_decisions, report_versions TO fsi_router;
GRANT SELECT, INSERT ON person_case_deliveries TO fsi_router;
GRANT SELECT (id, source, received_at) ON reports TO fsi_router;
