-- Reports as received and as standardised, and the transactional outbox that hands them on.

CREATE TABLE reports (
    id               uuid        PRIMARY KEY,
    client_id        text        NOT NULL,
    source           text        NOT NULL,
    external_id      text        NOT NULL,
    source_format    text        NOT NULL,
    -- sha-256 of the canonical input; a repeat with the same hash is a duplicate,
    -- with another hash a conflict
    content_hash     bytea       NOT NULL,
    raw_body         bytea       NOT NULL,
    raw_content_type text        NOT NULL,
    report           jsonb       NOT NULL,
    quality_issues   jsonb       NOT NULL DEFAULT '[]',
    received_at      timestamptz NOT NULL DEFAULT now(),
    -- No status column: a report's status follows from its outbox row and its decision,
    -- so publishing and routing never rewrite this (large) row.
    CONSTRAINT reports_source_external_id UNIQUE (source, external_id)
);

CREATE INDEX reports_received_at ON reports (received_at);

CREATE TABLE outbox (
    id            bigserial   PRIMARY KEY,
    report_id     uuid        NOT NULL REFERENCES reports (id),
    message_type  text        NOT NULL,
    source_format text        NOT NULL,
    routing_key   text        NOT NULL,
    payload       bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text,
    published_at  timestamptz
);

CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;
CREATE UNIQUE INDEX outbox_report_id ON outbox (report_id);

-- Relays LISTEN on this channel so a new row is published at once, not at the next poll.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fsi_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
