-- Staging for streams: big raw payloads are stored in zstd chunks (a 1 GB file never sits in memory or in
-- one bytea), a payload is marked processed once all its records are staged, and a staged record can be
-- superseded in the same transaction that inserts its successor.

ALTER TABLE raw_payload ALTER COLUMN content DROP NOT NULL;
ALTER TABLE raw_payload
    ADD COLUMN chunk_count  integer NOT NULL DEFAULT 0,
    ADD COLUMN processed_at timestamptz,
    ADD COLUMN record_count integer,
    ADD CONSTRAINT raw_payload_content_or_chunks CHECK ((content IS NULL) = (chunk_count > 0));

-- Chunk n holds uncompressed bytes [n * chunk_size, (n + 1) * chunk_size) of the payload, zstd-compressed.
CREATE TABLE raw_payload_chunk (
    payload_id  bigint  NOT NULL REFERENCES raw_payload (payload_id) ON DELETE CASCADE,
    seq         integer NOT NULL CHECK (seq >= 0),
    raw_offset  bigint  NOT NULL CHECK (raw_offset >= 0),
    data        bytea   NOT NULL,
    PRIMARY KEY (payload_id, seq)
);

-- Positions inside a payload (SMEV MessageID, file name) are looked up on reruns.
CREATE INDEX raw_payload_position ON raw_payload USING gin (position jsonb_path_ops);

ALTER TABLE staged_record
    DROP CONSTRAINT staged_record_superseded_by_fkey,
    ADD CONSTRAINT staged_record_superseded_by_fkey FOREIGN KEY (superseded_by)
        REFERENCES staged_record (staged_id) DEFERRABLE INITIALLY DEFERRED;

ALTER TABLE quarantine ADD COLUMN record_pointer text;

-- What a pull saw of each source, per run (counts only; never personal data).
CREATE INDEX run_kind_started ON run (kind, started_at DESC);
