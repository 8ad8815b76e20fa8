-- Version 6 (as ledger/migrations/0006_accounts_observed.sql): what GET /key says per account,
-- grouping by the hashed account identifier, notices said once per UTC day, reconciliation.
ALTER TABLE accounts ADD COLUMN tier_cap BIGINT;
ALTER TABLE accounts ADD COLUMN remote_day TEXT;
ALTER TABLE accounts ADD COLUMN remote_used BIGINT;
ALTER TABLE accounts ADD COLUMN extra_requests BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN credits TEXT;
ALTER TABLE accounts ADD COLUMN paid_refused_day TEXT;
ALTER TABLE accounts ADD COLUMN observed_ms BIGINT;
ALTER TABLE keys ADD COLUMN owner_hash TEXT;
ALTER TABLE pool_state ADD COLUMN reconciled_ms BIGINT;
CREATE TABLE notices (
    day      TEXT NOT NULL,
    subject  TEXT NOT NULL,
    message  TEXT NOT NULL,
    PRIMARY KEY (day, subject)
);
