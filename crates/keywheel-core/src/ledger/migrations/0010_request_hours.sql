-- Version 10: two-page reservations. A reservation now writes its key's day row and appends
-- its request row, and maintains no index: the time index (requests_started, version 7) goes.
-- Reads by time find their first row through `request_hours` instead, a small table with one
-- row per UTC hour that has requests: the lowest request id started in that hour (or lower).
-- Request ids grow as rows are appended, so "every request started at or after T has an id at
-- or above MIN(first_id) of the hours from T's on" turns a time range into a range of the
-- primary key (ledger/request_log.rs, `since_id`). A trigger keeps it, so every path that
-- writes a request row is covered; it writes only in an hour's first request (or when a lower
-- id appears there), so a reservation's commit does not carry its page.
-- (The PostgreSQL ledger keeps its index: ledger/pg/migrations/0010_request_hours.sql.)
CREATE TABLE request_hours (
    hour      INTEGER PRIMARY KEY,    -- started_ms / 3600000
    first_id  INTEGER NOT NULL
);

INSERT INTO request_hours (hour, first_id)
SELECT started_ms / 3600000, MIN(id) FROM requests GROUP BY started_ms / 3600000;

CREATE TRIGGER requests_hour AFTER INSERT ON requests
BEGIN
    INSERT INTO request_hours (hour, first_id) VALUES (NEW.started_ms / 3600000, NEW.id)
    ON CONFLICT (hour) DO UPDATE SET first_id = excluded.first_id
    WHERE excluded.first_id < request_hours.first_id;
END;

DROP INDEX requests_started;
