-- A published outbox row keeps what the report's status needs (published_at) but not its
-- copy of the report: the relay clears `payload` once the row has been published longer
-- than FSI_RELAY_KEEP_PUBLISHED_HOURS, so no personal data stays twice.

ALTER TABLE outbox ALTER COLUMN payload DROP NOT NULL;

-- The published rows that still hold their copy, oldest first: what the relay clears.
CREATE INDEX outbox_published_payload ON outbox (published_at)
    WHERE payload IS NOT NULL AND published_at IS NOT NULL;
