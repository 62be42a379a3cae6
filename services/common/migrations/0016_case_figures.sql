-- The deadline figures (services.common.caseevents.figures) count the deadlines not met by
-- unit and by the moment their rule counted from (`arrest`: custody). The index of 0015 has
-- no moment, so each of those rows was read from the table (about 13,000 pages at 1,000,000
-- cases: bench/deadlines.py); with the moment included the count reads the index alone.
-- Same name, same key and condition: it serves every query the old one did.
DROP INDEX unit_cases_deadline_unmet;
CREATE INDEX unit_cases_deadline_unmet ON unit_cases (unit, due_at) INCLUDE (deadline_moment)
    WHERE due_at IS NOT NULL AND met_at IS NULL AND returned_at IS NULL;
