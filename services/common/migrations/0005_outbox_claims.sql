-- The relay claims outbox rows for a while (a lease) instead of holding them locked while it
-- publishes, so each claim is counted in a committed statement before anything is sent,
-- whatever fails afterwards. A row whose claims keep ending without the relay recording
-- their outcome (published but never marked, or the relay lost on the way) is set aside
-- after FSI_RELAY_MAX_ATTEMPTS instead of being published again and again.

ALTER TABLE outbox
    -- Not claimable before this: the lease of a claim, or the back-off after a failure.
    ADD COLUMN next_attempt_at timestamptz,
    -- Claims that ended with no outcome recorded; reset when the row is put back.
    ADD COLUMN unsettled integer NOT NULL DEFAULT 0,
    -- Set aside: never claimed again until an operator puts the row back.
    ADD COLUMN set_aside_at timestamptz;

-- What the relay claims: pending rows that are not set aside, in id order.
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL AND set_aside_at IS NULL;

-- What operators look at and put back.
CREATE INDEX outbox_set_aside ON outbox (set_aside_at) WHERE set_aside_at IS NOT NULL;
