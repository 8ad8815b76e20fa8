-- Keywheel ledger, version 1. Shared by every running copy (CLI, app, examples).
-- Times are milliseconds since the Unix epoch (UTC); days are 'YYYY-MM-DD' in UTC.

-- Key metadata. The key material is never here: only its id (first 12 hex of SHA-256).
CREATE TABLE keys (
    id            TEXT PRIMARY KEY,
    label         TEXT NOT NULL DEFAULT '',
    account       TEXT,                       -- NULL: the key is its own account
    masked        TEXT NOT NULL,              -- 'sk-or-v1-…a1b2'
    source        TEXT NOT NULL,              -- 'keychain' | 'env'
    enabled       INTEGER NOT NULL DEFAULT 1,
    daily_cap     INTEGER,                    -- NULL: the configured default
    minute_cap    INTEGER,
    status        TEXT NOT NULL DEFAULT 'ok', -- ok | invalid | no_credit | spend_limited
    status_until  INTEGER,                    -- when a temporary status ends (spend limit reset)
    status_note   TEXT,
    created_ms    INTEGER NOT NULL,
    position      INTEGER NOT NULL DEFAULT 0  -- order keys were added; ties in selection
);

-- Per-account settings and observations. A row exists only when something is set or seen.
CREATE TABLE accounts (
    name              TEXT PRIMARY KEY,
    daily_cap         INTEGER,
    minute_cap        INTEGER,
    exhausted_day     TEXT,                   -- UTC day OpenRouter said the account was spent
    exhausted_until   INTEGER,
    no_credit         INTEGER NOT NULL DEFAULT 0
);

-- Per key, per UTC day: the counter reservations check and increment.
CREATE TABLE usage_daily (
    key_id            TEXT NOT NULL,
    day               TEXT NOT NULL,
    requests          INTEGER NOT NULL DEFAULT 0,
    successes         INTEGER NOT NULL DEFAULT 0,
    errors            INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens  INTEGER NOT NULL DEFAULT 0,
    cost              REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
) WITHOUT ROWID;

-- One row per request, written at reservation and completed with the outcome. The per-minute
-- sliding window is read from here (started_ms), so it holds across processes.
CREATE TABLE requests (
    id                INTEGER PRIMARY KEY,
    instance_id       TEXT NOT NULL,
    key_id            TEXT NOT NULL,
    account           TEXT NOT NULL,
    day               TEXT NOT NULL,
    started_ms        INTEGER NOT NULL,
    finished_ms       INTEGER,
    state             TEXT NOT NULL DEFAULT 'reserved', -- reserved | done | failed | abandoned
    kind              TEXT NOT NULL,                    -- chat | ocr | check | other
    model_asked       TEXT,
    model_answered    TEXT,
    status_class      TEXT,
    http_status       INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 1,
    fallback          INTEGER NOT NULL DEFAULT 0,
    rotation          INTEGER NOT NULL DEFAULT 0,
    cached            INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    reasoning_tokens  INTEGER,
    cost              REAL,
    latency_ms        INTEGER,
    bytes_sent        INTEGER,
    error             TEXT
);
CREATE INDEX requests_key_time ON requests (key_id, started_ms);
CREATE INDEX requests_account_time ON requests (account, started_ms);
CREATE INDEX requests_day ON requests (day, key_id);
CREATE INDEX requests_open ON requests (state) WHERE state = 'reserved';

-- Running instances (app windows, CLI runs) with a heartbeat.
CREATE TABLE instances (
    id            TEXT PRIMARY KEY,
    pid           INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    key_id        TEXT,
    started_ms    INTEGER NOT NULL,
    heartbeat_ms  INTEGER NOT NULL
);

-- The pool-wide current key (one row).
CREATE TABLE pool_state (
    singleton     INTEGER PRIMARY KEY CHECK (singleton = 1),
    current_key   TEXT,
    changed_ms    INTEGER
);
INSERT INTO pool_state (singleton, current_key, changed_ms) VALUES (1, NULL, NULL);
