-- Version 3 (as ledger/migrations/0003_ocr_jobs.sql): OCR jobs, one row per image tile.
CREATE TABLE ocr_jobs (
    id            BIGSERIAL PRIMARY KEY,
    content_hash  TEXT NOT NULL,
    tile_index    BIGINT NOT NULL,
    tiles         BIGINT NOT NULL,
    chain         TEXT NOT NULL,
    file          TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'queued',
    attempts      BIGINT NOT NULL DEFAULT 0,
    error_class   TEXT,
    error         TEXT,
    wait_until    BIGINT,
    result        TEXT,
    model         TEXT,
    key_id        TEXT,
    cached        BOOLEAN NOT NULL DEFAULT FALSE,
    local         BOOLEAN NOT NULL DEFAULT FALSE,
    width         BIGINT,
    height        BIGINT,
    owner         TEXT,
    owner_pid     BIGINT,
    created_ms    BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL,
    UNIQUE (content_hash, tile_index, tiles, chain)
);
CREATE INDEX ocr_jobs_status ON ocr_jobs (status);
