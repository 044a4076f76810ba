-- Least privilege in practice (issue 11): every application session runs as hub_app (registry.db.connect
-- sets the role at connection start). The owner login that runs the migrations is made a member so that
-- its application sessions can take the role too; its own sessions (migrations, VACUUM) stay the owner's.
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'hub_app', 'MEMBER') THEN
        EXECUTE format('GRANT hub_app TO %I', current_user);
    END IF;
END
$$;
-- Which database role each run used (the demo shows it per DAG).
ALTER TABLE run ADD COLUMN db_role text;
ALTER TABLE run ALTER COLUMN db_role SET DEFAULT current_user;
