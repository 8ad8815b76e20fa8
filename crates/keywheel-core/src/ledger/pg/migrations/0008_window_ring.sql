-- Version 8 (as ledger/migrations/0008_window_ring.sql): the per-minute window of a key in its
-- day row, a ring of 8-byte big-endian request times (ms) of its last 60 s.
ALTER TABLE usage_daily ADD COLUMN win BYTEA;
UPDATE usage_daily SET win = (
    SELECT decode(string_agg(lpad(to_hex(r.started_ms), 16, '0'), ''), 'hex')
    FROM requests r
    WHERE r.key_id = usage_daily.key_id AND r.day = usage_daily.day AND NOT r.cached
      AND r.started_ms > (SELECT MAX(started_ms) FROM requests WHERE NOT cached) - 60000
)
WHERE day >= (
    SELECT MIN(day) FROM requests
    WHERE NOT cached
      AND started_ms > (SELECT MAX(started_ms) FROM requests WHERE NOT cached) - 60000
);
DROP INDEX requests_key_window;
DROP INDEX requests_account_window;
