-- An audit log that proves itself (issue 11).
-- * The database chains the rows: a BEFORE INSERT trigger stamps `at`, takes the chain lock and sets
--   prev_hash and hash itself — whatever a client supplies is overwritten, so no bogus prev_hash can be
--   planted. hash = sha256(prev_hash | audit_id | at (UTC, µs) | sha256(signed) | signature), all ASCII, so
--   a verifier outside the database recomputes it byte for byte.
-- * The client signs what it appends: `signed` is the exact JSON text of the row's content (actor, action,
--   object, details, who ran it) and `signature` an Ed25519 signature of it with a key that lives outside
--   the database (HUB_HOME/audit/). An owner who edits a row and recomputes every hash still cannot sign.
-- * Checkpoints of the chain head are written, signed, outside the database (registry/audit_keys.py): a
--   cut tail or a recomputed chain no longer matches them.
ALTER TABLE audit_log ADD COLUMN signed text;
ALTER TABLE audit_log ADD COLUMN signature text CHECK (signature ~ '^[0-9a-f]{128}$');
ALTER TABLE audit_log ADD COLUMN key_id text;
ALTER TABLE audit_log ADD COLUMN os_user text;
ALTER TABLE audit_log ADD COLUMN declared_actor text;
ALTER TABLE audit_log ADD COLUMN airflow_run text;

CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(1213547010);  -- 0x4855_4202: one chain, no forks
    -- The id is drawn under the lock: ids drawn before it could order rows unlike the chain they form.
    NEW.audit_id := nextval(pg_get_serial_sequence('audit_log', 'audit_id'));
    SELECT hash INTO last_hash FROM audit_log ORDER BY audit_id DESC LIMIT 1;
    NEW.at := clock_timestamp();
    NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
    NEW.hash := encode(sha256(convert_to(
        NEW.prev_hash || '|' || NEW.audit_id::text || '|'
        || to_char(NEW.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '|'
        || encode(sha256(convert_to(coalesce(NEW.signed, ''), 'UTF8')), 'hex') || '|'
        || coalesce(NEW.signature, ''), 'UTF8')), 'hex');
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
-- The trigger may not be bypassed by the application: only the owner can disable it, and hub_app is not.
