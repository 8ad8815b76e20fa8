-- Version 3: OCR jobs. One row per image tile to transcribe, so a batch can be resumed after a
-- crash or a UTC reset without paying again for what is done.

CREATE TABLE ocr_jobs (
    id            INTEGER PRIMARY KEY,
    content_hash  TEXT NOT NULL,              -- SHA-256 of the source file's bytes
    tile_index    INTEGER NOT NULL,           -- 0-based, in reading order
    tiles         INTEGER NOT NULL,           -- how many tiles the image was cut into
    chain         TEXT NOT NULL,              -- the model chain asked, comma-separated
    file          TEXT NOT NULL,              -- the file name last seen with this content
    status        TEXT NOT NULL DEFAULT 'queued', -- queued | running | done | failed | waiting
    attempts      INTEGER NOT NULL DEFAULT 0, -- times a run took the job
    error_class   TEXT,                       -- quota | no_usable_key | upstream | bad_input | local | …
    error         TEXT,                       -- the sentence (never a key)
    wait_until    INTEGER,                    -- for 'waiting': when quota frees (ms)
    result        TEXT,                       -- the Markdown
    model         TEXT,                       -- the model that answered ('tesseract' when local)
    key_id        TEXT,                       -- the key that paid (NULL: cache or local)
    cached        INTEGER NOT NULL DEFAULT 0, -- answered from the shared response cache
    local         INTEGER NOT NULL DEFAULT 0, -- answered by the local engine (tesseract)
    width         INTEGER,                    -- the image sent, in pixels
    height        INTEGER,
    owner         TEXT,                       -- instance id running it
    owner_pid     INTEGER,
    created_ms    INTEGER NOT NULL,
    updated_ms    INTEGER NOT NULL,
    UNIQUE (content_hash, tile_index, tiles, chain)
);
CREATE INDEX ocr_jobs_status ON ocr_jobs (status);
