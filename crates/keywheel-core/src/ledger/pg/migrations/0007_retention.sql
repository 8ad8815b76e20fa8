-- Version 7 (as ledger/migrations/0007_retention.sql): retention.
CREATE INDEX requests_started ON requests (started_ms);
ALTER TABLE pool_state ADD COLUMN pruned_before_day TEXT;
ALTER TABLE pool_state ADD COLUMN pruned_ms BIGINT;
