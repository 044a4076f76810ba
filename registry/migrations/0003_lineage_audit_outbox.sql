-- Room for lineage (which staged record gave each registry value, by which survivorship rule),
-- the append-only audit log, and the push outbox. Described in docs/registry.md.

CREATE TABLE attribute_lineage (
    lineage_id     bigserial PRIMARY KEY,
    entity_kind    text NOT NULL CHECK (entity_kind IN ('person', 'family', 'case', 'service')),
    entity_id      text NOT NULL,
    attribute      text NOT NULL,
    value_sha256   text NOT NULL,
    staged_id      bigint NOT NULL REFERENCES staged_record (staged_id),
    rule           text NOT NULL,
    run_id         bigint NOT NULL REFERENCES run (run_id),
    valid_from     timestamptz NOT NULL DEFAULT now(),
    valid_to       timestamptz
);
CREATE INDEX attribute_lineage_entity ON attribute_lineage (entity_kind, entity_id, attribute);
CREATE INDEX attribute_lineage_staged ON attribute_lineage (staged_id);

-- Hash-chained: hash = sha256(prev_hash || canonical row text). Rows are never updated or deleted.
CREATE TABLE audit_log (
    audit_id     bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    action       text NOT NULL,
    object_kind  text,
    object_id    text,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    prev_hash    text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash         text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- Messages to agencies: delivered once per idempotency key, retried, dead-lettered after N attempts.
CREATE TABLE outbox (
    message_id       bigserial PRIMARY KEY,
    target_source    text NOT NULL REFERENCES source_system (code),
    idempotency_key  text NOT NULL UNIQUE,
    message_kind     text NOT NULL CHECK (message_kind IN ('crosswalk', 'accompaniment_status')),
    content_type     text NOT NULL,
    body             bytea NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    created_run_id   bigint REFERENCES run (run_id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz
);
CREATE INDEX outbox_due ON outbox (target_source, next_attempt_at) WHERE status = 'pending';
