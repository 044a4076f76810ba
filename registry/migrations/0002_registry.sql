-- The shared registry: persons and families with persistent ids, links from source records,
-- memberships, categories, cases, services, health status, consent, and the steward's review queue.
-- Described in docs/registry.md.

CREATE SEQUENCE registry_person_seq;
CREATE SEQUENCE registry_family_seq;
CREATE SEQUENCE registry_case_seq;

-- A registry id is never reused or renumbered: a merge marks the loser 'replaced' with replaced_by.
CREATE TABLE registry_person (
    registry_id     text PRIMARY KEY
                    DEFAULT ('P' || lpad(nextval('registry_person_seq')::text, 9, '0')),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'replaced', 'retired')),
    replaced_by     text REFERENCES registry_person (registry_id),
    golden          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_run_id  bigint REFERENCES run (run_id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'replaced') = (replaced_by IS NOT NULL))
);

CREATE TABLE registry_family (
    registry_id     text PRIMARY KEY
                    DEFAULT ('F' || lpad(nextval('registry_family_seq')::text, 9, '0')),
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'replaced', 'retired')),
    replaced_by     text REFERENCES registry_family (registry_id),
    golden          jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_run_id  bigint REFERENCES run (run_id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'replaced') = (replaced_by IS NOT NULL))
);

-- Which registry entity a source record belongs to, why, and since when. Exactly one of
-- person_id / family_id; history is kept by closing valid_to instead of deleting.
CREATE TABLE entity_link (
    link_id           bigserial PRIMARY KEY,
    source_code       text NOT NULL REFERENCES source_system (code),
    record_kind       text NOT NULL CHECK (record_kind IN ('person', 'family')),
    source_record_id  text NOT NULL,
    person_id         text REFERENCES registry_person (registry_id),
    family_id         text REFERENCES registry_family (registry_id),
    decision          text NOT NULL CHECK (decision IN
                        ('rule', 'auto', 'review_accepted', 'steward_link', 'new_entity', 'family_inferred')),
    score             double precision,
    explanation       jsonb NOT NULL DEFAULT '{}'::jsonb,
    model_version     text,
    run_id            bigint REFERENCES run (run_id),
    valid_from        timestamptz NOT NULL DEFAULT now(),
    valid_to          timestamptz,
    CHECK ((person_id IS NULL) <> (family_id IS NULL)),
    CHECK ((record_kind = 'person') = (person_id IS NOT NULL))
);
CREATE UNIQUE INDEX entity_link_current
    ON entity_link (source_code, record_kind, source_record_id) WHERE valid_to IS NULL;
CREATE INDEX entity_link_person ON entity_link (person_id) WHERE person_id IS NOT NULL;
CREATE INDEX entity_link_family ON entity_link (family_id) WHERE family_id IS NOT NULL;

CREATE TABLE membership (
    membership_id  bigserial PRIMARY KEY,
    family_id      text NOT NULL REFERENCES registry_family (registry_id),
    person_id      text NOT NULL REFERENCES registry_person (registry_id),
    role           text NOT NULL CHECK (role IN
                     ('mother', 'father', 'guardian', 'foster_parent', 'child', 'other_relative')),
    period_from    date,
    period_to      date,
    CHECK (period_to IS NULL OR period_from IS NULL OR period_to >= period_from)
);
CREATE INDEX membership_person ON membership (person_id);
CREATE UNIQUE INDEX membership_unique
    ON membership (family_id, person_id, role, coalesce(period_from, '-infinity'::date));

CREATE TABLE family_category (
    family_id  text NOT NULL REFERENCES registry_family (registry_id),
    category   text NOT NULL CHECK (category IN
                 ('foster', 'disabled_children', 'special_needs_0_3', 'large', 'low_income',
                  'intends_to_give_up_child', 'single_parent', 'socially_dangerous', 'migrants_refugees',
                  'parental_dependence', 'child_in_conflict_with_law', 'women_in_difficult_situation')),
    since      date,
    until      date,
    PRIMARY KEY (family_id, category)
);

CREATE TABLE accompaniment_case (
    case_id               text PRIMARY KEY
                          DEFAULT ('C' || lpad(nextval('registry_case_seq')::text, 9, '0')),
    family_id             text NOT NULL REFERENCES registry_family (registry_id),
    source_code           text NOT NULL REFERENCES source_system (code),
    source_record_id      text NOT NULL,
    level                 text NOT NULL CHECK (level IN ('adaptation', 'basic', 'crisis', 'emergency')),
    stage                 text NOT NULL CHECK (stage IN
                            ('diagnostic', 'contract', 'activity', 'reflection', 'post_accompaniment')),
    curator               jsonb,
    individual_programme  jsonb NOT NULL DEFAULT '[]'::jsonb,
    contract_date         date,
    opened_on             date NOT NULL,
    closed_on             date,
    closure_reason        text,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_code, source_record_id)
);
CREATE INDEX accompaniment_case_family ON accompaniment_case (family_id);

CREATE TABLE service (
    service_id        bigserial PRIMARY KEY,
    source_code       text NOT NULL REFERENCES source_system (code),
    source_record_id  text NOT NULL,
    person_id         text REFERENCES registry_person (registry_id),
    family_id         text REFERENCES registry_family (registry_id),
    case_id           text REFERENCES accompaniment_case (case_id),
    kind              text NOT NULL CHECK (kind IN ('informational', 'psychological', 'socio_pedagogical',
                                                    'socio_medical', 'legal', 'socio_economic')),
    provider_agency   text NOT NULL,
    provider_org      text,
    started_on        date NOT NULL,
    ended_on          date,
    status            text NOT NULL,
    outcome           text,
    UNIQUE (source_code, source_record_id)
);
CREATE INDEX service_person ON service (person_id);
CREATE INDEX service_family ON service (family_id);

-- Health data (confidential): never pushed to agencies that are not entitled to it.
CREATE TABLE health_status (
    health_status_id  bigserial PRIMARY KEY,
    person_id         text NOT NULL REFERENCES registry_person (registry_id),
    source_code       text NOT NULL REFERENCES source_system (code),
    source_record_id  text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('disability', 'special_needs')),
    established_on    date,
    valid_until       date,
    basis             text,
    UNIQUE (source_code, source_record_id)
);

CREATE TABLE consent (
    consent_id          bigserial PRIMARY KEY,
    person_id           text NOT NULL REFERENCES registry_person (registry_id),
    source_code         text NOT NULL REFERENCES source_system (code),
    source_record_id    text NOT NULL,
    receiving_agencies  text[] NOT NULL,
    purpose             text NOT NULL,
    valid_from          date NOT NULL,
    valid_to            date,
    withdrawn_on        date,
    UNIQUE (source_code, source_record_id)
);

-- Uncertain matches waiting for a data steward.
CREATE TABLE review_item (
    review_id          bigserial PRIMARY KEY,
    entity_kind        text NOT NULL CHECK (entity_kind IN ('person', 'family')),
    source_code        text NOT NULL REFERENCES source_system (code),
    source_record_id   text NOT NULL,
    candidate_id       text NOT NULL,
    score              double precision NOT NULL,
    explanation        jsonb NOT NULL DEFAULT '{}'::jsonb,
    model_version      text,
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'rejected')),
    created_run_id     bigint REFERENCES run (run_id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    decided_by         text,
    decided_at         timestamptz
);
CREATE UNIQUE INDEX review_item_open
    ON review_item (entity_kind, source_code, source_record_id, candidate_id) WHERE status = 'open';

-- A steward's decisions outlive every later run: the matcher reads them before it scores.
CREATE TABLE steward_decision (
    decision_id       bigserial PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('link', 'never_link', 'unmerge')),
    entity_kind       text NOT NULL CHECK (entity_kind IN ('person', 'family')),
    source_code       text NOT NULL REFERENCES source_system (code),
    source_record_id  text NOT NULL,
    registry_id       text NOT NULL,
    actor             text NOT NULL,
    reason            text,
    review_id         bigint REFERENCES review_item (review_id),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX steward_decision_record ON steward_decision (source_code, source_record_id);
