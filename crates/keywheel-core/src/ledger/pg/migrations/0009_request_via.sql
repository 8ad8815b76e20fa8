-- Version 9 (as ledger/migrations/0009_request_via.sql): every request row says which face
-- sent it, `via` = the kind its instance registered with (`cli`, `app`, `gateway`,
-- `gateway-session:<id>`, …), copied from `instances` as the row is written (a trigger, so
-- reservations and cache hits record it alike). Older rows keep NULL, except those of
-- instances still registered now.
ALTER TABLE requests ADD COLUMN via TEXT;

UPDATE requests r SET via = i.kind FROM instances i WHERE i.id = r.instance_id;

CREATE FUNCTION keywheel_request_via() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.via IS NULL THEN
        SELECT kind INTO NEW.via FROM instances WHERE id = NEW.instance_id;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER requests_via BEFORE INSERT ON requests
FOR EACH ROW EXECUTE FUNCTION keywheel_request_via();
