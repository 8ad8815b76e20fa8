-- Version 4 (as ledger/migrations/0004_alerts.sql): alerts, once per (UTC day, rule, subject)
-- team-wide, by the UNIQUE constraint.
CREATE TABLE alerts (
    id          BIGSERIAL PRIMARY KEY,
    day         TEXT NOT NULL,
    rule        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    message     TEXT NOT NULL,
    UNIQUE (day, rule, subject)
);
