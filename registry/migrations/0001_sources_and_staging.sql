-- Sources, runs, raw payloads, cursors, staged canonical records and quarantine.
-- Described in docs/registry.md.

CREATE TABLE source_system (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,63}$'),
    agency      text NOT NULL CHECK (agency IN ('social_protection', 'health', 'education', 'ngo')),
    name        text NOT NULL,
    format      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE run (
    run_id          bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('pull', 'reconcile', 'push', 'maintenance', 'replay')),
    source_code     text REFERENCES source_system (code),
    status          text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    dag_id          text,
    airflow_run_id  text,
    task_id         text,
    try_number      integer,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    stats           jsonb NOT NULL DEFAULT '{}'::jsonb,
    error           text,
    CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX run_by_source ON run (source_code, started_at DESC);

-- Raw bytes exactly as the agency sent them, compressed; sha256 is of the uncompressed bytes.
CREATE TABLE raw_payload (
    payload_id    bigserial PRIMARY KEY,
    source_code   text NOT NULL REFERENCES source_system (code),
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes    bigint NOT NULL CHECK (size_bytes >= 0),
    compression   text NOT NULL CHECK (compression IN ('zstd', 'none')),
    content       bytea NOT NULL,
    content_type  text NOT NULL,
    position      jsonb NOT NULL,
    first_run_id  bigint NOT NULL REFERENCES run (run_id),
    received_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_code, sha256)
);

-- Incremental watermark per source; written in the same transaction as the rows it covers.
CREATE TABLE source_cursor (
    source_code  text NOT NULL REFERENCES source_system (code),
    cursor_name  text NOT NULL,
    value        text NOT NULL,
    run_id       bigint NOT NULL REFERENCES run (run_id),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_code, cursor_name)
);

CREATE TABLE staged_record (
    staged_id          bigserial PRIMARY KEY,
    source_code        text NOT NULL REFERENCES source_system (code),
    record_kind        text NOT NULL CHECK (record_kind IN
                         ('person', 'family', 'membership', 'case', 'service', 'disability', 'consent')),
    source_record_id   text NOT NULL,
    content_sha256     text NOT NULL CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    canonical          jsonb NOT NULL,
    mapping_name       text,
    mapping_version    text NOT NULL,
    payload_id         bigint REFERENCES raw_payload (payload_id),
    raw_pointer        text,
    warnings           jsonb NOT NULL DEFAULT '[]'::jsonb,
    run_id             bigint NOT NULL REFERENCES run (run_id),
    staged_at          timestamptz NOT NULL DEFAULT now(),
    superseded_by      bigint REFERENCES staged_record (staged_id),
    deleted_at         timestamptz,
    reconciled_run_id  bigint REFERENCES run (run_id)
);
-- One current version per source record; older versions stay for lineage and replay.
CREATE UNIQUE INDEX staged_record_current
    ON staged_record (source_code, record_kind, source_record_id) WHERE superseded_by IS NULL;
CREATE INDEX staged_record_pending ON staged_record (source_code) WHERE reconciled_run_id IS NULL;
CREATE INDEX staged_record_payload ON staged_record (payload_id);

CREATE TABLE quarantine (
    quarantine_id   bigserial PRIMARY KEY,
    source_code     text NOT NULL REFERENCES source_system (code),
    run_id          bigint NOT NULL REFERENCES run (run_id),
    payload_id      bigint REFERENCES raw_payload (payload_id),
    position        jsonb NOT NULL DEFAULT '{}'::jsonb,
    reason_code     text NOT NULL CHECK (reason_code IN
                      ('parse_error', 'xsd_violation', 'mapping_error', 'invalid_identifier',
                       'validation_error', 'transport_error', 'hostile_input')),
    reason          text NOT NULL,
    raw_sha256      text NOT NULL CHECK (raw_sha256 ~ '^[0-9a-f]{64}$'),
    raw_compression text NOT NULL CHECK (raw_compression IN ('zstd', 'none')),
    raw_content     bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    resolution      text,
    -- the same bad bytes failing for the same reason are quarantined once, however often they are pulled
    UNIQUE (source_code, raw_sha256, reason_code)
);
