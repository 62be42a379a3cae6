-- Database roles, so that the append-only audit binds the services. `fsi_owner` (no login)
-- owns the tables: migrations run as it, or as a login that is a member of it. The services
-- connect as logins that are members of `fsi_intake` or `fsi_router` (no login themselves),
-- which hold only the privileges each service's statements use: no TRUNCATE, no DELETE, no
-- UPDATE of what is append-only, and not owners (so they cannot disable a trigger, alter or
-- drop a table). Roles belong to the whole cluster and several databases may migrate at once,
-- so each is created only when missing, and a creation that another database's migration won
-- meanwhile is taken as done. Privileges belong to this database and are granted here.

DO $$
DECLARE
    wanted text;
BEGIN
    FOREACH wanted IN ARRAY ARRAY['fsi_owner', 'fsi_intake', 'fsi_router'] LOOP
        CONTINUE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = wanted);
        IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
            RAISE EXCEPTION 'role % does not exist and this login may not create roles '
                            '(create it first, or migrate with CREATEROLE)', wanted;
        END IF;
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', wanted);
        EXCEPTION
            -- Another database's migration created it first: committed (duplicate_object),
            -- or in flight when this one waited on the catalogue's unique index.
            WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END LOOP;
    -- The migration login acts as the owner from now on (a superuser is a member already).
    IF NOT pg_has_role(current_user, 'fsi_owner', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT fsi_owner TO %I', current_user);
        EXCEPTION
            WHEN unique_violation THEN NULL;
        END;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO fsi_intake, fsi_router', current_database());
    -- The owner must be allowed to create in the schema before it can own what is in it.
    EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO fsi_owner', current_schema());
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO fsi_intake, fsi_router', current_schema());
    -- PostgreSQL 15's default, kept where a database was made before it: only the owner
    -- creates objects (a service role could otherwise shadow a table or function).
    EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', current_schema());
END
$$;

-- Sequences of serial columns follow their table.
ALTER TABLE schema_migrations OWNER TO fsi_owner;
ALTER TABLE reports OWNER TO fsi_owner;
ALTER TABLE outbox OWNER TO fsi_owner;
ALTER TABLE decisions OWNER TO fsi_owner;
ALTER TABLE rule_loads OWNER TO fsi_owner;
ALTER TABLE case_deliveries OWNER TO fsi_owner;
ALTER TABLE waiting_cases OWNER TO fsi_owner;
ALTER TABLE dead_letters OWNER TO fsi_owner;
ALTER FUNCTION outbox_notify() OWNER TO fsi_owner;
ALTER FUNCTION decisions_append_only() OWNER TO fsi_owner;
ALTER FUNCTION case_deliveries_append_only() OWNER TO fsi_owner;
ALTER FUNCTION dead_letters_append_only() OWNER TO fsi_owner;

-- TRUNCATE fires no row trigger: the append-only tables refuse it by a statement trigger,
-- whoever asks (the owner too, unless a migration drops the trigger on purpose; TRUNCATE of
-- reports CASCADE reaches these tables and is refused with them).
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION decisions_append_only();
CREATE TRIGGER case_deliveries_no_truncate BEFORE TRUNCATE ON case_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION case_deliveries_append_only();
CREATE TRIGGER dead_letters_no_truncate BEFORE TRUNCATE ON dead_letters
    FOR EACH STATEMENT EXECUTE FUNCTION dead_letters_append_only();

-- Both services: whether their migrations are applied (a service that does not migrate on
-- start refuses to start while one is missing).
GRANT SELECT ON schema_migrations TO fsi_intake, fsi_router;

-- The intake stores reports with their outbox rows, relays the outbox, and reads a report's
-- status and the operations overview. It never reads a raw body back, and never changes a
-- stored report.
GRANT INSERT ON reports TO fsi_intake;
GRANT SELECT (id, client_id, source, external_id, source_format, content_hash, report,
              quality_issues, received_at)
    ON reports TO fsi_intake;
GRANT SELECT, INSERT ON outbox TO fsi_intake;
-- What the relay changes: claims, marks, back-off, set aside and back, the cleared copy;
-- never which report a row announces, its message type or routing key.
GRANT UPDATE (payload, attempts, unsettled, next_attempt_at, set_aside_at, last_error,
              published_at)
    ON outbox TO fsi_intake;
GRANT USAGE ON SEQUENCE outbox_id_seq TO fsi_intake;
GRANT SELECT ON decisions, case_deliveries, waiting_cases, dead_letters, rule_loads
    TO fsi_intake;

-- The router reads the report as stored, records decisions, confirmed cases, cases waiting
-- for a queue, dead letters and rule loads; of these it changes only the waits.
GRANT SELECT (id, report, quality_issues, message_sha256) ON reports TO fsi_router;
GRANT SELECT, INSERT ON decisions, case_deliveries, waiting_cases TO fsi_router;
GRANT UPDATE (unit, returns, last_returned_at, next_attempt_at, delivered_at)
    ON waiting_cases TO fsi_router;
GRANT INSERT (report_id, code, reason) ON dead_letters TO fsi_router;
GRANT INSERT (router, outcome, version, rules, catalogue, error) ON rule_loads TO fsi_router;
GRANT USAGE ON SEQUENCE rule_loads_id_seq TO fsi_router;
