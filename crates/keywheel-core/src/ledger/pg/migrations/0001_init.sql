-- Keywheel ledger, version 1, on PostgreSQL: the same tables as the SQLite file
-- (ledger/migrations/0001_init.sql). Times are ms since the Unix epoch (UTC); days 'YYYY-MM-DD'.
CREATE TABLE keys (
    id            TEXT PRIMARY KEY,
    label         TEXT NOT NULL DEFAULT '',
    account       TEXT,
    masked        TEXT NOT NULL,
    source        TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    daily_cap     BIGINT,
    minute_cap    BIGINT,
    status        TEXT NOT NULL DEFAULT 'ok',
    status_until  BIGINT,
    status_note   TEXT,
    created_ms    BIGINT NOT NULL,
    position      BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE accounts (
    name              TEXT PRIMARY KEY,
    daily_cap         BIGINT,
    minute_cap        BIGINT,
    exhausted_day     TEXT,
    exhausted_until   BIGINT,
    no_credit         BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE usage_daily (
    key_id            TEXT NOT NULL,
    day               TEXT NOT NULL,
    requests          BIGINT NOT NULL DEFAULT 0,
    successes         BIGINT NOT NULL DEFAULT 0,
    errors            BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens  BIGINT NOT NULL DEFAULT 0,
    cost              DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, day)
);

CREATE TABLE requests (
    id                BIGSERIAL PRIMARY KEY,
    instance_id       TEXT NOT NULL,
    key_id            TEXT NOT NULL,
    account           TEXT NOT NULL,
    day               TEXT NOT NULL,
    started_ms        BIGINT NOT NULL,
    finished_ms       BIGINT,
    state             TEXT NOT NULL DEFAULT 'reserved',
    kind              TEXT NOT NULL,
    model_asked       TEXT,
    model_answered    TEXT,
    status_class      TEXT,
    http_status       BIGINT,
    attempts          BIGINT NOT NULL DEFAULT 1,
    fallback          BOOLEAN NOT NULL DEFAULT FALSE,
    rotation          BOOLEAN NOT NULL DEFAULT FALSE,
    cached            BOOLEAN NOT NULL DEFAULT FALSE,
    prompt_tokens     BIGINT,
    completion_tokens BIGINT,
    reasoning_tokens  BIGINT,
    cost              DOUBLE PRECISION,
    latency_ms        BIGINT,
    bytes_sent        BIGINT,
    error             TEXT
);
CREATE INDEX requests_key_time ON requests (key_id, started_ms);
CREATE INDEX requests_account_time ON requests (account, started_ms);
CREATE INDEX requests_day ON requests (day, key_id);
CREATE INDEX requests_open ON requests (state) WHERE state = 'reserved';

-- Running instances on every machine; `host` names the machine (team mode).
CREATE TABLE instances (
    id            TEXT PRIMARY KEY,
    pid           BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    key_id        TEXT,
    started_ms    BIGINT NOT NULL,
    heartbeat_ms  BIGINT NOT NULL,
    host          TEXT NOT NULL DEFAULT ''
);

CREATE TABLE pool_state (
    singleton     INTEGER PRIMARY KEY CHECK (singleton = 1),
    current_key   TEXT,
    changed_ms    BIGINT
);
INSERT INTO pool_state (singleton, current_key, changed_ms) VALUES (1, NULL, NULL);
