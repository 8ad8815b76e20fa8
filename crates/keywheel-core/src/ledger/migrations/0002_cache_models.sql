-- Version 2: the shared response cache, the model catalogue cache, and models skipped for the day.

-- Exact, content-addressed response cache shared by every instance. A hit costs no quota.
CREATE TABLE response_cache (
    hash        TEXT PRIMARY KEY,   -- SHA-256 of model chain + normalized messages + parameters
    kind        TEXT NOT NULL,      -- chat | ocr
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    model       TEXT,               -- the model that answered
    body        TEXT NOT NULL       -- JSON of the reply (content, reasoning, usage)
) WITHOUT ROWID;
CREATE INDEX response_cache_expiry ON response_cache (expires_ms);

-- GET /models, cached for a day.
CREATE TABLE models_cache (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    fetched_ms  INTEGER NOT NULL,
    body        TEXT NOT NULL
);

-- Models that answered "No endpoints found" are skipped for the rest of the UTC day.
CREATE TABLE model_skips (
    model       TEXT NOT NULL,
    day         TEXT NOT NULL,
    reason      TEXT,
    PRIMARY KEY (model, day)
) WITHOUT ROWID;
