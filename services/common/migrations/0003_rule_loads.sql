-- Every rule set a router loaded or refused: what the operations page shows as the rule set
-- in use, and the unit catalogue it routes to (so the intake knows the units without the
-- router's files).

CREATE TABLE rule_loads (
    id        bigserial   PRIMARY KEY,
    router    text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    outcome   text        NOT NULL CHECK (outcome IN ('loaded', 'refused')),
    version   text,
    rules     integer,
    catalogue jsonb,
    error     text,
    CHECK ((outcome = 'loaded') = (version IS NOT NULL AND catalogue IS NOT NULL))
);

CREATE INDEX rule_loads_at ON rule_loads (at DESC);
