-- Version 5 (as ledger/migrations/0005_request_indexes.sql): the window indexes.
DROP INDEX requests_key_time;
DROP INDEX requests_account_time;
DROP INDEX requests_open;
DROP INDEX requests_day;
CREATE INDEX requests_key_window ON requests (key_id, started_ms, cached);
CREATE INDEX requests_account_window ON requests (account, started_ms, cached);
