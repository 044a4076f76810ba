-- Push as state (issue 11): the outbox holds, per agency, the difference between what it is entitled to now
-- and what it last acknowledged. A message not yet attempted is 'superseded' when a newer state replaces it;
-- a message attempted once keeps its idempotency key until it is acknowledged (the agency may already have
-- it). A dead letter is 'released' by `hub push retry --dead`, after which its entries are queued again.
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
    CHECK (status IN ('pending', 'delivered', 'dead', 'superseded', 'released'));
ALTER TABLE outbox ADD COLUMN last_attempt_at timestamptz;
CREATE INDEX outbox_by_target ON outbox (target_source, message_id) WHERE status IN ('pending', 'dead');

-- The disclosure register (152-FZ): who received which field about which registry person, when, on which
-- legal basis, in which message. A retraction (a field sent as null after its basis ended) is a row too.
CREATE TABLE disclosure (
    disclosure_id  bigserial PRIMARY KEY,
    target_source  text NOT NULL REFERENCES source_system (code),
    person_id      text REFERENCES registry_person (registry_id),
    source_record_id text NOT NULL,
    field          text NOT NULL,
    basis          text NOT NULL CHECK (basis IN ('law_442fz', 'consent', 'retraction')),
    consent_id     bigint REFERENCES consent (consent_id) ON DELETE SET NULL,
    message_id     bigint NOT NULL REFERENCES outbox (message_id),
    disclosed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX disclosure_person ON disclosure (person_id, disclosed_at);
CREATE INDEX disclosure_target ON disclosure (target_source, disclosed_at);
-- Evidence, like the audit log: the application appends and reads, never rewrites.
REVOKE UPDATE, DELETE, TRUNCATE ON disclosure FROM hub_app, PUBLIC;

-- What a push asks per linked person (issue 11: 9.4 s without it at 50k rows).
CREATE INDEX IF NOT EXISTS health_status_person ON health_status (person_id);
CREATE INDEX IF NOT EXISTS consent_person ON consent (person_id);
CREATE INDEX IF NOT EXISTS accompaniment_case_family_opened ON accompaniment_case (family_id, opened_on DESC);
