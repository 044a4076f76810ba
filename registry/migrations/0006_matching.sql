-- Matching state: the standardised features of every reconciled person record (so a night compares only
-- new and changed records against them, never the whole history against itself), survivorship conflicts,
-- and which source households make up each registry family.

CREATE TABLE match_person (
    source_code       text NOT NULL REFERENCES source_system (code),
    source_record_id  text NOT NULL,
    staged_id         bigint NOT NULL REFERENCES staged_record (staged_id),
    registry_id       text NOT NULL REFERENCES registry_person (registry_id),
    household         text,
    features          jsonb NOT NULL,
    updated_run_id    bigint REFERENCES run (run_id),
    PRIMARY KEY (source_code, source_record_id)
);
CREATE INDEX match_person_registry ON match_person (registry_id);
CREATE INDEX match_person_snils ON match_person ((features ->> 'snils')) WHERE features ->> 'snils' IS NOT NULL;

-- A golden attribute whose sources disagree: what was chosen, what else was seen (by whom).
CREATE TABLE survivorship_conflict (
    entity_kind  text NOT NULL CHECK (entity_kind IN ('person', 'family')),
    entity_id    text NOT NULL,
    attribute    text NOT NULL,
    chosen       jsonb,
    candidates   jsonb NOT NULL,
    run_id       bigint NOT NULL REFERENCES run (run_id),
    PRIMARY KEY (entity_kind, entity_id, attribute)
);

-- Lineage and history of merges, unmerges and moves (issue: auditors see when and why).
CREATE TABLE entity_event (
    event_id     bigserial PRIMARY KEY,
    entity_kind  text NOT NULL CHECK (entity_kind IN ('person', 'family')),
    entity_id    text NOT NULL,
    event        text NOT NULL CHECK (event IN ('created', 'linked', 'merged_into', 'absorbed', 'unmerged',
                                                'unlinked', 'retired')),
    other_id     text,
    source_code  text,
    source_record_id text,
    cause        text NOT NULL,
    run_id       bigint REFERENCES run (run_id),
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX entity_event_entity ON entity_event (entity_kind, entity_id, at);

ALTER TABLE membership ADD COLUMN source_code text, ADD COLUMN source_record_id text;
ALTER TABLE family_category ADD COLUMN source_code text;
