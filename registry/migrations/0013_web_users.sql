-- The workspace's users (issue 15, `hub web`): stewards, auditors, programme managers and agency operators
-- who work in a browser. Only an Argon2 hash of each password is kept (pwdlib); a user is switched off,
-- never deleted, so that the audit log's "web:<name>" keeps meaning someone.
CREATE TABLE web_user (
    username       text PRIMARY KEY CHECK (username ~ '^[a-z][a-z0-9_.-]{1,39}$'),
    role           text NOT NULL CHECK (role IN ('steward', 'auditor', 'manager', 'operator')),
    agency         text CHECK (agency IN ('social_protection', 'health', 'education', 'ngo')),
    password_hash  text NOT NULL,
    active         boolean NOT NULL DEFAULT true,
    failed_logins  integer NOT NULL DEFAULT 0,
    locked_until   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (role = 'operator' OR agency IS NULL)
);
