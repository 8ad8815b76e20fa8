-- Version 11: `keywheel_imports`, what each imported machine's history already brought, per
-- (source, key, UTC day): `keywheel ledger import` adds to a team ledger's day totals only what
-- a source did not bring before (ledger/pg/transfer.rs, docs/team.md "Moving over"). It used to
-- be created by the first import, which then needed the schema's owner; as a migration it is
-- there before any import, so the role every machine runs as imports too. Imports go only to
-- a team ledger (PostgreSQL); the file carries the same table so both backends stay at the
-- same schema version and shape.
CREATE TABLE keywheel_imports (
    source            TEXT NOT NULL,      -- the machine's name and its ledger file, hashed
    key_id            TEXT NOT NULL,
    day               TEXT NOT NULL,      -- UTC day, YYYY-MM-DD
    requests          INTEGER NOT NULL,
    successes         INTEGER NOT NULL,
    errors            INTEGER NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    reasoning_tokens  INTEGER NOT NULL,
    cost              REAL NOT NULL,
    PRIMARY KEY (source, key_id, day)
) WITHOUT ROWID;
