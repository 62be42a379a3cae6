-- A person's case RabbitMQ returned because no queue is bound for its unit (a unit's queue
-- deleted, or a new unit of the catalogue not declared yet) is not delivered: it waits here,
-- one row per decision, and the router publishes it again with backoff until a queue takes
-- it, as `waiting_cases` does for the rules' cases. The `case.decided` message that carried
-- it is acknowledged once the wait is recorded.

CREATE TABLE person_waiting_cases (
    decision_id       uuid        PRIMARY KEY REFERENCES person_decisions (id),
    report_id         uuid        NOT NULL REFERENCES reports (id),
    unit              text        NOT NULL,
    first_returned_at timestamptz NOT NULL DEFAULT now(),
    last_returned_at  timestamptz NOT NULL DEFAULT now(),
    returns           integer     NOT NULL DEFAULT 1,
    next_attempt_at   timestamptz NOT NULL,
    delivered_at      timestamptz
);

-- The cases still waiting, by when they are next tried: what the router's retry reads.
CREATE INDEX person_waiting_cases_due ON person_waiting_cases (next_attempt_at)
    WHERE delivered_at IS NULL;

GRANT SELECT, INSERT ON person_waiting_cases TO fsi_router;
GRANT UPDATE (returns, last_returned_at, next_attempt_at, delivered_at)
    ON person_waiting_cases TO fsi_router;
-- A report's status may say that a person's case waits for its unit's queue.
GRANT SELECT ON person_waiting_cases TO fsi_intake;
