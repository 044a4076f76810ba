"""
### Registry maintenance

Applies pending schema migrations to the shared PostgreSQL registry (numbered SQL files in
`registry/migrations/`, idempotent) and records a `maintenance` run in the registry's `run` table with the
Airflow ids (dag_id, run_id, task_id, try) so that an auditor can find this task try again. Then deletes
quarantine rows a steward resolved more than `nightly.resolved_quarantine_retention_days` ago (raw payloads
and staged versions are lineage evidence and are kept) and runs `VACUUM (ANALYZE)` on the busy tables.

The registry URL comes from `HUB_DATABASE_URL` (set by `hub demo` / `hub airflow`), else the embedded server.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task

from hub.alerts import night_deadline
from hub.dag_support import DEFAULT_ARGS, airflow_ids


@dag(
    dag_id="registry_maintenance",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    deadline=night_deadline("registry_maintenance"),
    default_args=DEFAULT_ARGS,
    tags=["family-hub", "registry", "maintenance"],
    doc_md=__doc__,
)
def registry_maintenance() -> None:
    @task
    def apply_migrations() -> dict:
        """Apply pending migrations; return what was applied and the version reached."""
        from registry.maintenance import upgrade_registry

        return upgrade_registry(airflow_context=airflow_ids(get_current_context()))

    @task
    def report_status(upgrade: dict) -> dict:
        """Log the schema version and row counts (counts only: no personal data in task logs)."""
        from registry.maintenance import registry_status

        status = registry_status()
        print(f"migrations applied: {[m['name'] for m in upgrade['applied']]}")
        print(f"schema version {status['schema_version']} of {status['latest_version']}")
        return {"schema_version": status["schema_version"], "rows": status["rows"]}

    @task
    def vacuum_and_retention(upgrade: dict) -> dict:
        """Retention of resolved quarantine rows, then VACUUM ANALYZE (counts only in the result)."""
        from connectors.config import load_nightly
        from registry.maintenance import vacuum_and_retention as run

        return run(retention_days=load_nightly().resolved_quarantine_retention_days)

    upgraded = apply_migrations()
    report_status(upgraded)
    vacuum_and_retention(upgraded)


dag = registry_maintenance()

if __name__ == "__main__":
    dag.test()
