-- Version 8: one-row reservations. The per-minute window of a key is kept in its day row, as a
-- small ring of the request times (ms) of its last 60 s, so a reservation reads and writes
-- that row and appends its request row, and no longer maintains two window indexes
-- (ledger/reserve.rs). The ring is a BLOB of 8-byte big-endian times, in any order.
ALTER TABLE usage_daily ADD COLUMN win BLOB;

-- Rings for the last minute of the ledger, so the window holds across the upgrade. (Run before
-- the indexes go: it reads through requests_key_window.)
UPDATE usage_daily SET win = (
    SELECT unhex(group_concat(printf('%016x', r.started_ms), ''))
    FROM requests r
    WHERE r.key_id = usage_daily.key_id AND r.day = usage_daily.day AND r.cached = 0
      AND r.started_ms > (SELECT MAX(started_ms) FROM requests WHERE cached = 0) - 60000
)
WHERE day >= (
    SELECT MIN(day) FROM requests
    WHERE cached = 0
      AND started_ms > (SELECT MAX(started_ms) FROM requests WHERE cached = 0) - 60000
);

-- Only the window queries used these; key and account reads elsewhere go through the time
-- index (requests_started), bounded to a day.
DROP INDEX requests_key_window;
DROP INDEX requests_account_window;
