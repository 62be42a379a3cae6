-- The figures of the work list the operations monitor reads every few seconds: downgrades
-- (a correction or a route that lowered the rules' priority) are few among a person's acts,
-- and are found by this small index instead of reading every act; whether one was reviewed
-- is looked up by its report (person_acts_report).
CREATE INDEX person_acts_downgrades ON person_acts (report_id, acted_at)
    WHERE kind IN ('corrected', 'routed') AND details->>'downgrade' = 'true';
