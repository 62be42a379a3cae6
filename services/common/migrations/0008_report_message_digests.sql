-- The router decides on a report as the intake stored it, never on what a message says: the
-- message is only a trigger, and anyone able to publish to the reports exchange could put
-- another body under a real report id. The intake keeps the SHA-256 of the exact message it
-- publishes for each report; the router compares a delivery's body with it and dead-letters
-- one that differs (`report_differs`). On the report row, not the outbox row: the outbox's
-- copy of the message is cleared after publishing, the digest must outlive it, and the
-- router reads reports already. A digest holds no personal data a reader could get back: the
-- message it hashes holds a random report id.

ALTER TABLE reports
    ADD COLUMN message_sha256 bytea CHECK (octet_length(message_sha256) = 32);

-- Reports whose message is still in the outbox get its digest. Those whose copy was cleared
-- before this migration keep none: the router compares their message with the stored report
-- field by field, and publishes the stored one.
UPDATE reports r SET message_sha256 = sha256(o.payload)
FROM outbox o
WHERE o.report_id = r.id AND o.payload IS NOT NULL;
