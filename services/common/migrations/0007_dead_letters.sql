-- Reports the router dead-lettered. A report of this database whose own message the router
-- could not route (the rules failed on it, its message could not be read) goes to the
-- dead-letter queue, and its sender learns it from the report's status (`dead_lettered`).
-- Append-only, one row each time the router dead-letters it: a fixed code and the reason the
-- x-fsi-reason header carries, both free of personal data. A report routed after all (a
-- redelivery, an operator republishing it) shows that later status: a decision or a
-- confirmed case outranks a dead letter.

CREATE TABLE dead_letters (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id uuid        NOT NULL REFERENCES reports (id),
    code      text        NOT NULL,
    reason    text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);

-- The latest dead letter of a report: what its status reads.
CREATE INDEX dead_letters_report ON dead_letters (report_id, id);

CREATE FUNCTION dead_letters_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'dead letters are append-only';
END;
$$;

CREATE TRIGGER dead_letters_no_change BEFORE UPDATE OR DELETE ON dead_letters
    FOR EACH ROW EXECUTE FUNCTION dead_letters_append_only();
