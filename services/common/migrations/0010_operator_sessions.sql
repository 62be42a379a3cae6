-- Operators' sign-ins to the operations page. The browser holds a random 256-bit token in
-- a cookie; this table holds only its SHA-256, so a reader of the table cannot sign in.
-- A session holds until its absolute lifetime from created_at, its idle lifetime from
-- last_seen_at (written at most about once a minute), or ended_at (signed out, or its
-- client lost the operator role or changed its key). Rows past the absolute lifetime are
-- deleted at the next sign-in. No personal data: the subject is a client id of the clients
-- file, the credential a prefix of its key's SHA-256.

CREATE TABLE operator_sessions (
    token_sha256 bytea       PRIMARY KEY CHECK (octet_length(token_sha256) = 32),
    subject      text        NOT NULL,
    credential   text        NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    ended_at     timestamptz,
    end_reason   text,
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);

-- The purge at sign-in deletes by age.
CREATE INDEX operator_sessions_created ON operator_sessions (created_at);

-- The intake signs operators in and out (INSERT, UPDATE of the times), reads a session at
-- each request (SELECT) and clears those past their lifetime (DELETE); the router has no
-- use for them.
GRANT SELECT, INSERT, DELETE ON operator_sessions TO fsi_intake;
GRANT UPDATE (last_seen_at, ended_at, end_reason) ON operator_sessions TO fsi_intake;
