-- A run whose process died (SIGKILL, a lost worker) is marked 'abandoned' by the next run of its kind, which
-- knows it is the only one: every pull, reconcile and push holds a session advisory lock while it runs
-- (registry.runs.exclusive_run), released by PostgreSQL when the process's connection ends.
ALTER TABLE run DROP CONSTRAINT run_status_check;
ALTER TABLE run ADD CONSTRAINT run_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'abandoned'));
-- Agencies are data (config/sources.yaml), not four names fixed in the schema.
ALTER TABLE source_system DROP CONSTRAINT source_system_agency_check;
ALTER TABLE source_system ADD CONSTRAINT source_system_agency_check CHECK (agency ~ '^[a-z][a-z0-9_]{1,63}$');
CREATE INDEX run_running ON run (kind, source_code) WHERE status = 'running';
