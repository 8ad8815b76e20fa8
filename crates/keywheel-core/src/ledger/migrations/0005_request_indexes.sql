-- Version 5: cheaper reservations. The per-minute window queries read covering indexes (no
-- table lookup for `cached`), and two indexes that every reservation and completion had to
-- maintain, but only rare reads used, are dropped.
DROP INDEX requests_key_time;
DROP INDEX requests_account_time;
DROP INDEX requests_open;
DROP INDEX requests_day;
CREATE INDEX requests_key_window ON requests (key_id, started_ms, cached);
CREATE INDEX requests_account_window ON requests (account, started_ms, cached);
