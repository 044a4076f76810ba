-- Push bookkeeping: what each agency has already received per source record, so a push sends only what
-- changed; and the entries of each outbox message (the agency-format body is opaque XML or JSON).

ALTER TABLE outbox ADD COLUMN entries jsonb NOT NULL DEFAULT '[]'::jsonb;

CREATE TABLE push_state (
    target_source     text NOT NULL REFERENCES source_system (code),
    source_record_id  text NOT NULL,
    entry_sha256      text NOT NULL CHECK (entry_sha256 ~ '^[0-9a-f]{64}$'),
    message_id        bigint NOT NULL REFERENCES outbox (message_id),
    delivered_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target_source, source_record_id)
);
