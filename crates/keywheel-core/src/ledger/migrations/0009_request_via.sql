-- Version 9: every request row says which face sent it. `via` is the kind its instance
-- registered with (`cli`, `app`, `gateway`, `gateway-session:<id>`, `example`, …), copied
-- from `instances` as the row is written: the instance row leaves the ledger when the instance
-- ends, the request row stays. A trigger copies it, so every path that writes a request row
-- (a reservation, a cache hit) records it without naming it. Rows written before this version
-- keep NULL, except those of instances still registered now.
-- (The PostgreSQL ledger has the same migration: ledger/pg/migrations/0009_request_via.sql.)
ALTER TABLE requests ADD COLUMN via TEXT;

UPDATE requests SET via = (SELECT i.kind FROM instances i WHERE i.id = requests.instance_id)
WHERE instance_id IN (SELECT id FROM instances);

CREATE TRIGGER requests_via AFTER INSERT ON requests
WHEN NEW.via IS NULL
BEGIN
    UPDATE requests SET via = (SELECT kind FROM instances WHERE id = NEW.instance_id)
    WHERE id = NEW.id;
END;
