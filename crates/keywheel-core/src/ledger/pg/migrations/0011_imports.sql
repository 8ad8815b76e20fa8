-- Version 11 (as ledger/migrations/0011_imports.sql): `keywheel_imports`, what each imported
-- machine's history already brought, per (source, key, UTC day) (ledger/pg/transfer.rs). The
-- first `keywheel ledger import` used to create it, so imports needed the schema's owner; now
-- it is part of the schema, and the role every machine runs as (docs/team.md, "Least
-- privilege") imports too. A ledger that an earlier import gave the table keeps it and its
-- rows (the same columns).
CREATE TABLE IF NOT EXISTS keywheel_imports (
    source            TEXT NOT NULL,
    key_id            TEXT NOT NULL,
    day               TEXT NOT NULL,
    requests          BIGINT NOT NULL,
    successes         BIGINT NOT NULL,
    errors            BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    reasoning_tokens  BIGINT NOT NULL,
    cost              DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (source, key_id, day)
);

-- The migration-9 trigger fills `via` from the row's instance when the writer did not name it.
-- A reservation names it itself (ledger/pg/reserve.rs), so the trigger now runs only for rows
-- without one: no function call per reservation.
DROP TRIGGER requests_via ON requests;
CREATE TRIGGER requests_via BEFORE INSERT ON requests
FOR EACH ROW WHEN (NEW.via IS NULL) EXECUTE FUNCTION keywheel_request_via();
