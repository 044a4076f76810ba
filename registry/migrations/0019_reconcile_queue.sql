-- Issue 14: which run reconciled a staged record lives in a narrow table of its own. Marking a night's
-- records reconciled rewrote each wide staged_record row (its canonical JSON, nine index entries): 18 of
-- the 130 s a 69k-record first night took to reconcile, about 5 minutes at 1M source records.
-- staged_reconcile has one row per staged record (a statement trigger adds them as records are staged);
-- run_id is NULL while the record waits for a reconcile.
CREATE TABLE staged_reconcile (
    staged_id  bigint PRIMARY KEY,
    run_id     bigint
);
INSERT INTO staged_reconcile (staged_id, run_id) SELECT staged_id, reconciled_run_id FROM staged_record;
CREATE INDEX staged_reconcile_pending ON staged_reconcile (staged_id) WHERE run_id IS NULL;

CREATE FUNCTION staged_reconcile_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO staged_reconcile (staged_id) SELECT staged_id FROM added;
    RETURN NULL;
END $$;
CREATE TRIGGER staged_reconcile_add AFTER INSERT ON staged_record
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION staged_reconcile_add();

DROP INDEX staged_record_pending;
ALTER TABLE staged_record DROP COLUMN reconciled_run_id;
GRANT SELECT, INSERT, UPDATE, DELETE ON staged_reconcile TO hub_app;
