-- Version 10 (the number of ledger/migrations/0010_request_hours.sql): nothing changes here.
-- The SQLite ledger drops its time index and finds time ranges through a small per-hour
-- table, so that a reservation writes two pages of a file; PostgreSQL's row-locked
-- reservations do not pay per page the same way, and its reads keep `requests_started`.
-- The number is taken so both backends stay at the same schema version.
SELECT 1;
