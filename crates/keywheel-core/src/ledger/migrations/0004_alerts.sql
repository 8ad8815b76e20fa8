-- Version 4: alerts. One row per (UTC day, rule, subject): the UNIQUE constraint is what makes
-- an alert fire once per day even when many processes cross a threshold at the same moment.
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    day         TEXT NOT NULL,
    rule        TEXT NOT NULL,     -- rotation_threshold | key_cap | key_invalid | no_credit | spend_limited | account_spent | all_spent | error_spike
    subject     TEXT NOT NULL,     -- a key id, an account, or 'pool'
    created_ms  INTEGER NOT NULL,
    message     TEXT NOT NULL,
    UNIQUE (day, rule, subject)
);
