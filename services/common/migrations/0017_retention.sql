-- Retention starts at closure: once every case of a report is closed by its unit (or
-- returned) and nothing of it waits anywhere, its personal data is kept for a period the
-- deployment sets (FSI_RETENTION_AFTER_CLOSURE_DAYS) and then erased by `fsi-retention
-- erase` (services/intake/retention.py). Erasure blanks, never deletes: the rows stay with
-- their ids, codes and times (decisions, cases, events, acts), the personal columns become
-- their erased forms:
--
--   reports.raw_body -> '' (empty), reports.report -> '{}', reports.quality_issues and
--   report_versions.quality_issues -> code and path of each issue (the message may quote
--   what was written), report_versions.report -> '{}', person_acts.reason and .response
--   (the answer kept for a retry, which may hold a corrected report) -> NULL,
--   person_decisions.decision -> without decided_by.reason, outbox.payload -> NULL.
--
-- One door does it: `erase_after_closure`, a SECURITY DEFINER function of the owner, which
-- the role `fsi_retention` (the job's login is a member) may call and nothing else may
-- write: the role has no UPDATE on any table, so it cannot write anything but the erased
-- forms, and cannot erase a report that is not due. Each erasure is recorded in `erasures`
-- (append-only) before the columns are blanked, and the append-only tables' row triggers let
-- an UPDATE through only inside that function (`fsi.erasure` is on only while it runs), only
-- for a report with its erasure recorded, and only when the new row is exactly the old one
-- erased. DELETE and TRUNCATE stay refused for everyone.

-- The job's role, made when missing as 0009 makes the others (a deployment's operator makes
-- it first, without login, where the migration login may not create roles). Creating a role
-- and granting on the database and schema are the migration login's own powers, not the
-- tables' owner's: they are done as that login, then the owner acts again (fsi-migrate has
-- set `SET LOCAL ROLE fsi_owner` for every migration after 0009).
RESET ROLE;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fsi_retention') THEN
        IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user)
        THEN
            RAISE EXCEPTION 'role fsi_retention does not exist and this login may not create '
                            'roles (create it first, or migrate with CREATEROLE)';
        END IF;
        BEGIN
            CREATE ROLE fsi_retention NOLOGIN;
        EXCEPTION
            -- Another database's migration created it first (see 0009).
            WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO fsi_retention', current_database());
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO fsi_retention', current_schema());
END
$$;
SET LOCAL ROLE fsi_owner;

CREATE TABLE erasures (
    report_id uuid        PRIMARY KEY REFERENCES reports (id),
    erased_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The last closure of the report's cases (a unit's `closed` event, its occurred_at),
    -- from which the period ran, and the period in days as the job was set.
    closed_at timestamptz NOT NULL,
    kept_days integer     NOT NULL CHECK (kept_days >= 0),
    -- What was blanked, as table.column names (a JSON member as its path).
    erased    text[]      NOT NULL
);

CREATE INDEX erasures_erased_at ON erasures (erased_at);

-- The closed cases by closure time: where the job's search for reports due starts.
CREATE INDEX unit_cases_closed ON unit_cases (closed_at) INCLUDE (report_id)
    WHERE closed_at IS NOT NULL;

CREATE FUNCTION erasures_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'erasures are append-only';
END;
$$;

CREATE TRIGGER erasures_no_change BEFORE UPDATE OR DELETE ON erasures
    FOR EACH ROW EXECUTE FUNCTION erasures_append_only();
CREATE TRIGGER erasures_no_truncate BEFORE TRUNCATE ON erasures
    FOR EACH STATEMENT EXECUTE FUNCTION erasures_append_only();

-- Quality issues without their messages (a message may quote a value as written).
CREATE FUNCTION erased_issues(issues jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
SELECT coalesce(jsonb_agg(jsonb_build_object('code', i -> 'code', 'path', i -> 'path')
                          ORDER BY n), '[]'::jsonb)
FROM jsonb_array_elements(CASE WHEN jsonb_typeof(issues) = 'array' THEN issues
                               ELSE '[]'::jsonb END) WITH ORDINALITY AS t (i, n)
$$;

-- A row of an append-only table as erasure leaves it (its columns as JSON).
CREATE FUNCTION erased_row(tab text, old jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
SELECT CASE tab
    WHEN 'person_acts' THEN old || '{"reason": null, "response": null}'::jsonb
    WHEN 'report_versions' THEN old || jsonb_build_object(
        'report', '{}'::jsonb, 'quality_issues', erased_issues(old -> 'quality_issues'))
    WHEN 'person_decisions' THEN old || jsonb_build_object(
        'decision', (old -> 'decision') #- '{decided_by,reason}')
END
$$;

-- The row trigger of person_acts, report_versions and person_decisions for UPDATE: refused,
-- unless it is erasure's (see above). DELETE keeps person_audit_append_only (0011).
CREATE FUNCTION erasure_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('fsi.erasure', true) = 'on'
       AND EXISTS (SELECT FROM erasures e WHERE e.report_id = OLD.report_id)
       AND to_jsonb(NEW) = erased_row(TG_TABLE_NAME, to_jsonb(OLD)) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only (only erasure after closure blanks its personal data)',
        TG_TABLE_NAME;
END;
$$;

DROP TRIGGER person_acts_no_change ON person_acts;
DROP TRIGGER report_versions_no_change ON report_versions;
DROP TRIGGER person_decisions_no_change ON person_decisions;
CREATE TRIGGER person_acts_no_delete BEFORE DELETE ON person_acts
    FOR EACH ROW EXECUTE FUNCTION person_audit_append_only();
CREATE TRIGGER person_acts_erasure_only BEFORE UPDATE ON person_acts
    FOR EACH ROW EXECUTE FUNCTION erasure_only();
CREATE TRIGGER report_versions_no_delete BEFORE DELETE ON report_versions
    FOR EACH ROW EXECUTE FUNCTION person_audit_append_only();
CREATE TRIGGER report_versions_erasure_only BEFORE UPDATE ON report_versions
    FOR EACH ROW EXECUTE FUNCTION erasure_only();
CREATE TRIGGER person_decisions_no_delete BEFORE DELETE ON person_decisions
    FOR EACH ROW EXECUTE FUNCTION person_audit_append_only();
CREATE TRIGGER person_decisions_erasure_only BEFORE UPDATE ON person_decisions
    FOR EACH ROW EXECUTE FUNCTION erasure_only();

-- The reports due for erasure at `cutoff` (now less the period), each with its last closure:
-- every case a unit held is closed or was returned, at least one was closed, the last
-- closure is at or before `cutoff`, and nothing of the report waits: no work item that is not
-- done (on the work list, or a proposal for a prosecutor), no report message still to
-- publish, no rules' case waiting for its unit's queue, no person's case not yet confirmed by
-- its queue. Read from the closed cases by closure time, newest first (the older ones are
-- those erased before), one row per report (its case with the last closure), so a batch
-- stops early; each check is an index lookup by report id.
CREATE FUNCTION erasable_after_closure(cutoff timestamptz)
RETURNS TABLE (report_id uuid, closed_at timestamptz)
LANGUAGE sql STABLE AS $$
SELECT k.report_id, k.closed_at
FROM unit_cases k
CROSS JOIN LATERAL (
    SELECT (array_agg(u.case_id ORDER BY u.closed_at DESC NULLS LAST, u.case_id DESC))[1]
               AS last_case,
           bool_and(u.closed_at IS NOT NULL OR u.returned_at IS NOT NULL) AS ended
    FROM unit_cases u
    WHERE u.report_id = k.report_id
) s
WHERE k.closed_at <= cutoff
  AND k.case_id = s.last_case
  AND s.ended
  AND NOT EXISTS (SELECT FROM erasures e WHERE e.report_id = k.report_id)
  AND NOT EXISTS (SELECT FROM work_items w WHERE w.report_id = k.report_id AND w.state <> 'done')
  AND NOT EXISTS (SELECT FROM outbox o
                  WHERE o.report_id = k.report_id AND o.decision_id IS NULL
                    AND o.published_at IS NULL)
  AND NOT EXISTS (SELECT FROM waiting_cases q
                  WHERE q.report_id = k.report_id AND q.delivered_at IS NULL)
  AND NOT EXISTS (SELECT FROM person_decisions p
                  WHERE p.report_id = k.report_id
                    AND NOT EXISTS (SELECT FROM person_case_deliveries d
                                    WHERE d.decision_id = p.id))
ORDER BY k.closed_at DESC, k.report_id
$$;

-- Erase up to `batch` reports due at `cutoff` (the job passes now less the period, and the
-- period as `kept_days` to record); the erased reports with their last closure and what was
-- blanked. A report another run holds is skipped (that run erases it), one erased meanwhile
-- is not erased twice. Runs as the owner, with `fsi.erasure` on only while it blanks.
CREATE FUNCTION erase_after_closure(cutoff timestamptz, kept_days integer, batch integer)
RETURNS TABLE (report_id uuid, closed_at timestamptz, erased text[])
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
#variable_conflict use_column
DECLARE
    ids uuid[];
    closings timestamptz[];
BEGIN
    IF kept_days IS NULL OR kept_days < 0 OR batch IS NULL OR batch < 1 THEN
        RAISE EXCEPTION 'erase_after_closure: kept_days >= 0 and batch >= 1, not % and %',
            kept_days, batch;
    END IF;
    -- Until the end of this function (set off again below; an error ends the transaction,
    -- and the setting with it).
    PERFORM set_config('fsi.erasure', 'on', true);
    SELECT coalesce(array_agg(l.id), '{}'), coalesce(array_agg(l.closed_at), '{}')
    INTO ids, closings
    FROM (SELECT r.id, d.closed_at
          FROM (SELECT e.report_id, e.closed_at FROM erasable_after_closure(cutoff) e
                LIMIT batch) d
          JOIN reports r ON r.id = d.report_id
          FOR NO KEY UPDATE OF r SKIP LOCKED) l;

    WITH recorded AS (
        INSERT INTO erasures AS x (report_id, closed_at, kept_days, erased)
        SELECT g.report_id, g.closed_at, erase_after_closure.kept_days,
               ARRAY['reports.raw_body', 'reports.report', 'reports.quality_issues']
               || CASE WHEN EXISTS (SELECT FROM report_versions v
                                    WHERE v.report_id = g.report_id)
                       THEN ARRAY['report_versions.report', 'report_versions.quality_issues']
                       ELSE '{}'::text[] END
               || CASE WHEN EXISTS (SELECT FROM person_acts a
                                    WHERE a.report_id = g.report_id AND a.reason IS NOT NULL)
                       THEN ARRAY['person_acts.reason'] ELSE '{}'::text[] END
               || CASE WHEN EXISTS (SELECT FROM person_acts a
                                    WHERE a.report_id = g.report_id AND a.response IS NOT NULL)
                       THEN ARRAY['person_acts.response'] ELSE '{}'::text[] END
               || CASE WHEN EXISTS (SELECT FROM person_decisions p
                                    WHERE p.report_id = g.report_id
                                      AND p.decision -> 'decided_by' ? 'reason')
                       THEN ARRAY['person_decisions.decision.decided_by.reason']
                       ELSE '{}'::text[] END
               || CASE WHEN EXISTS (SELECT FROM outbox o
                                    WHERE o.report_id = g.report_id AND o.decision_id IS NULL
                                      AND o.payload IS NOT NULL)
                         OR EXISTS (SELECT FROM person_decisions p
                                    JOIN outbox o ON o.decision_id = p.id
                                    WHERE p.report_id = g.report_id AND o.payload IS NOT NULL)
                       THEN ARRAY['outbox.payload'] ELSE '{}'::text[] END
        FROM unnest(ids, closings) AS g (report_id, closed_at)
        ON CONFLICT DO NOTHING
        RETURNING x.report_id
    )
    SELECT coalesce(array_agg(recorded.report_id), '{}') INTO ids FROM recorded;

    UPDATE reports r
    SET raw_body = ''::bytea, report = '{}'::jsonb,
        quality_issues = erased_issues(r.quality_issues)
    WHERE r.id = ANY (ids);
    UPDATE report_versions v
    SET report = '{}'::jsonb, quality_issues = erased_issues(v.quality_issues)
    WHERE v.report_id = ANY (ids);
    UPDATE person_acts a SET reason = NULL, response = NULL
    WHERE a.report_id = ANY (ids) AND (a.reason IS NOT NULL OR a.response IS NOT NULL);
    UPDATE person_decisions p SET decision = p.decision #- '{decided_by,reason}'
    WHERE p.report_id = ANY (ids) AND p.decision -> 'decided_by' ? 'reason';
    UPDATE outbox o SET payload = NULL
    WHERE o.report_id = ANY (ids) AND o.decision_id IS NULL AND o.payload IS NOT NULL;
    UPDATE outbox o SET payload = NULL
    FROM person_decisions p
    WHERE p.report_id = ANY (ids) AND o.decision_id = p.id AND o.payload IS NOT NULL;

    PERFORM set_config('fsi.erasure', 'off', true);
    RETURN QUERY
    SELECT x.report_id, x.closed_at, x.erased FROM erasures x
    WHERE x.report_id = ANY (ids)
    ORDER BY x.closed_at, x.report_id;
END;
$$;

-- A definer function finds our tables in this schema only, a caller's temporary objects last
-- (a temporary table of the caller's cannot stand in for one of ours). No JIT: the planner
-- overestimates the search for due reports by far (a per-report lookup), and compiling it
-- took 0.8 s a batch where the batch's work takes 0.07 s (500 of 135,000 due reports).
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION erase_after_closure(timestamptz, integer, integer) '
                   'SET search_path = %I, pg_temp', current_schema());
END
$$;
ALTER FUNCTION erase_after_closure(timestamptz, integer, integer) SET jit = off;

-- Functions are anyone's to call unless revoked: the erasure is the job's alone.
REVOKE ALL ON FUNCTION erase_after_closure(timestamptz, integer, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION erase_after_closure(timestamptz, integer, integer) TO fsi_retention;
-- The job reads what decides whether a report is due (for --dry-run, as the function does),
-- ids, states and times only, never a personal column; and whether its migrations are in.
GRANT SELECT ON schema_migrations, erasures TO fsi_retention;
GRANT SELECT (case_id, report_id, closed_at, returned_at) ON unit_cases TO fsi_retention;
GRANT SELECT (report_id, state) ON work_items TO fsi_retention;
GRANT SELECT (report_id, decision_id, published_at) ON outbox TO fsi_retention;
GRANT SELECT (report_id, delivered_at) ON waiting_cases TO fsi_retention;
GRANT SELECT (id, report_id) ON person_decisions TO fsi_retention;
GRANT SELECT (decision_id) ON person_case_deliveries TO fsi_retention;
-- The intake says a report's erasure when the report is read back.
GRANT SELECT ON erasures TO fsi_intake;
