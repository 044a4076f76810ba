-- The hub's own database role, hub_app: everything the application does, but it can never rewrite the
-- audit log. UPDATE, DELETE and TRUNCATE on audit_log are not granted (and revoked from PUBLIC), so they fail
-- with "permission denied" before the append-only trigger of 0003 is even asked; the trigger still refuses
-- them for the owner and superusers. The role is NOLOGIN: deployments log in as a member of it (see
-- docs/registry.md, "Running the hub as hub_app"). Migrations keep running as the database owner.

-- A role belongs to the server, not to one database: another registry on the same server (tests create
-- many) may have created it already, perhaps at this very moment.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hub_app') THEN
        CREATE ROLE hub_app NOLOGIN;
    END IF;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN
        NULL;
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'role hub_app does not exist and this user may not create it'
            USING HINT = 'as a superuser: CREATE ROLE hub_app NOLOGIN; then run the migration again';
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO hub_app', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO hub_app;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO hub_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO hub_app;

-- Append and read only: the chain of hashes is the evidence, and only appends keep it.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM hub_app, PUBLIC;
-- The schema's history is the owner's: the application reads it (hub db status) and never writes it.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migration FROM hub_app, PUBLIC;

-- Tables and sequences that later migrations create (as the owner) are the application's too; a later
-- append-only table must revoke its own UPDATE/DELETE the way this file does for audit_log.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO hub_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO hub_app;

-- Lineage questions ("what did run R change", "where did record X go", "which memberships put a person in
-- this family") read by run, by source record id across versions, and by a record's household.
CREATE INDEX IF NOT EXISTS staged_record_run ON staged_record (run_id);
CREATE INDEX IF NOT EXISTS staged_record_source_id ON staged_record (source_code, source_record_id);
CREATE INDEX IF NOT EXISTS staged_record_family_ref ON staged_record (source_code, (canonical ->> 'family_ref'))
    WHERE record_kind IN ('membership', 'case', 'service');
CREATE INDEX IF NOT EXISTS entity_link_record ON entity_link (source_code, source_record_id);
CREATE INDEX IF NOT EXISTS entity_link_run ON entity_link (run_id);
CREATE INDEX IF NOT EXISTS attribute_lineage_run ON attribute_lineage (run_id);
CREATE INDEX IF NOT EXISTS entity_event_run ON entity_event (run_id);
CREATE INDEX IF NOT EXISTS raw_payload_sha256 ON raw_payload (sha256);
CREATE INDEX IF NOT EXISTS quarantine_raw_sha256 ON quarantine (raw_sha256);
