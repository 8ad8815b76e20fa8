-- Version 6: what OpenRouter's GET /key says about each account (tier, today's free-model
-- count, credit), accounts grouped by the identifier in error bodies, sentences said once per
-- UTC day, and when the pool last reconciled with /key (docs/models.md).

-- free_model_daily_requests.limit seen (50, or 1000 once 10 credits were bought).
ALTER TABLE accounts ADD COLUMN tier_cap INTEGER;
-- The UTC day of the last /key observation, and the requests OpenRouter had counted for the
-- account that this ledger had not (used - local count then, never negative).
ALTER TABLE accounts ADD COLUMN remote_day TEXT;
ALTER TABLE accounts ADD COLUMN remote_used INTEGER;
ALTER TABLE accounts ADD COLUMN extra_requests INTEGER NOT NULL DEFAULT 0;
-- 'paid' (credits bought: paid models are in its chains) | 'free_only' | NULL (not known).
ALTER TABLE accounts ADD COLUMN credits TEXT;
-- The UTC day a paid model answered 402 "insufficient credits": paid models are out that day.
ALTER TABLE accounts ADD COLUMN paid_refused_day TEXT;
-- When /key was last read for it (ms).
ALTER TABLE accounts ADD COLUMN observed_ms INTEGER;

-- First 16 hex of the SHA-256 of the account identifier (`user_id`) seen in the key's error
-- bodies: keys with the same one are one account. The identifier itself is not stored.
ALTER TABLE keys ADD COLUMN owner_hash TEXT;

-- The last /key reconciliation by any process (ms): at most one every 10 minutes.
ALTER TABLE pool_state ADD COLUMN reconciled_ms INTEGER;

-- Sentences said once per UTC day across every process ("X is no longer offered …").
CREATE TABLE notices (
    day      TEXT NOT NULL,
    subject  TEXT NOT NULL,
    message  TEXT NOT NULL,
    PRIMARY KEY (day, subject)
) WITHOUT ROWID;
