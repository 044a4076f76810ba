-- Issue 14: a night compares tonight's person records only with the stored records that share a blocking
-- key with them (matching/blocking.py), found through a GIN index instead of loading every stored record.
-- The keys are 64-bit hashes (no names in the index;
-- a collision only adds a candidate the model then scores). match_block_scheme holds the version of the rules the keys
-- were built for; a model with other rules rebuilds them once. Existing rows have NULL keys and no scheme
-- row yet, so the first night after this migration builds them.
ALTER TABLE match_person ADD COLUMN IF NOT EXISTS block_keys bigint[];
-- fastupdate off: a night's new keys go straight into the index. With the pending list, every lookup
-- after a big night scanned the unsorted list until a vacuum merged it (4.8 s instead of 0.2 s at 100k).
CREATE INDEX IF NOT EXISTS match_person_block_keys ON match_person USING gin (block_keys)
    WITH (fastupdate = off);
CREATE TABLE IF NOT EXISTS match_block_scheme (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version text NOT NULL,
    built_run_id bigint,
    built_at timestamptz NOT NULL DEFAULT now()
);
