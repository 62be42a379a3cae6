-- Where each case really is. A decision says where a report should go; a case is routed
-- (or triaged) only once its queue confirmed it: `case_deliveries`, append-only, one row per
-- report and unit however often the case was published again. A case RabbitMQ returned
-- because no queue is bound for its unit waits in `waiting_cases` and is published again,
-- with backoff, until a queue takes it. Reports decided before this migration have no
-- delivery row and show as decided: whether a queue took them was never recorded.

CREATE TABLE case_deliveries (
    report_id    uuid        NOT NULL REFERENCES reports (id),
    unit         text        NOT NULL,
    confirmed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (report_id, unit)
);

CREATE INDEX case_deliveries_confirmed_at ON case_deliveries (confirmed_at);

CREATE FUNCTION case_deliveries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case deliveries are append-only';
END;
$$;

CREATE TRIGGER case_deliveries_no_change BEFORE UPDATE OR DELETE ON case_deliveries
    FOR EACH ROW EXECUTE FUNCTION case_deliveries_append_only();

CREATE TABLE waiting_cases (
    report_id         uuid        PRIMARY KEY REFERENCES reports (id),
    unit              text        NOT NULL,
    first_returned_at timestamptz NOT NULL DEFAULT now(),
    last_returned_at  timestamptz NOT NULL DEFAULT now(),
    returns           integer     NOT NULL DEFAULT 1,
    next_attempt_at   timestamptz NOT NULL,
    delivered_at      timestamptz
);

-- The cases still waiting, by when they are next tried: what the router's retry reads.
CREATE INDEX waiting_cases_due ON waiting_cases (next_attempt_at) WHERE delivered_at IS NULL;
