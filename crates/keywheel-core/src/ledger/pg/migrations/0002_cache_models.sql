-- Version 2 (as ledger/migrations/0002_cache_models.sql): response cache, catalogue cache,
-- models skipped for the day.
CREATE TABLE response_cache (
    hash        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    model       TEXT,
    body        TEXT NOT NULL
);
CREATE INDEX response_cache_expiry ON response_cache (expires_ms);

CREATE TABLE models_cache (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    fetched_ms  BIGINT NOT NULL,
    body        TEXT NOT NULL
);

CREATE TABLE model_skips (
    model       TEXT NOT NULL,
    day         TEXT NOT NULL,
    reason      TEXT,
    PRIMARY KEY (model, day)
);
