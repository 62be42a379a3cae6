-- Routing decisions: one per report, append-only (the audit trail of where a report went).

CREATE TABLE decisions (
    report_id       uuid        PRIMARY KEY REFERENCES reports (id),
    district        text,
    unit            text        NOT NULL,
    priority        text        NOT NULL CHECK (priority IN ('critical', 'high', 'normal', 'low')),
    amqp_priority   smallint    NOT NULL,
    deadline_at     timestamptz,
    deadline_basis  text,
    deadline_rule   text,
    matched_rules   text[]      NOT NULL DEFAULT '{}',
    triage_reasons  text[]      NOT NULL DEFAULT '{}',
    ruleset_version text        NOT NULL,
    decided_at      timestamptz NOT NULL,
    decision        jsonb       NOT NULL
);

CREATE INDEX decisions_unit_deadline ON decisions (unit, deadline_at);
CREATE INDEX decisions_decided_at ON decisions (decided_at);

CREATE FUNCTION decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'decisions are append-only';
END;
$$;

CREATE TRIGGER decisions_no_change BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION decisions_append_only();
