"""
### Push back to the agencies

After each reconcile: for every agency with a push configuration, queue what changed (registry ids of its
records, accompaniment status — only the fields in its `push.fields`) in the outbox and deliver it in the
agency's format (JSON, SMEV envelope, file). Each message goes once (idempotency key), is retried with
backoff and dead-lettered after `push.max_attempts`. A push that leaves a message undelivered fails its
task (its hub run is `failed` too); Airflow's retry delivers what has become due. Fields go by their
legal basis (442-FZ or an active consent) and each disclosure is written to the disclosure register.

The night ends with `audit_checkpoint`: the audit log's chain head, signed, written outside the database
(`HUB_AUDIT_CHECKPOINTS`, WORM storage in production), whatever the pushes did.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task

from connectors.config import load_nightly, load_sources
from hub.alerts import night_deadline
from hub.dag_support import DEFAULT_ARGS, REGISTRY_ASSET_URI, airflow_ids, failure_recorder
from hub.openlineage_support import hub_task, push_lineage

_nightly = load_nightly()
_targets = [code for code, source in sorted(load_sources().items()) if source.push is not None]


@dag(
    dag_id="push",
    schedule=[Asset(name="registry_reconciled", uri=REGISTRY_ASSET_URI)],
    start_date=pendulum.datetime(2026, 1, 1, tz=_nightly.timezone),
    catchup=False,
    max_active_runs=1,
    deadline=night_deadline("push"),
    default_args={**DEFAULT_ARGS, "on_failure_callback": failure_recorder("push")},
    tags=["family-hub", "push"],
    doc_md=__doc__,
)
def push_dag() -> None:
    pushes = []
    for code in _targets:

        @hub_task(push_lineage(code), task_id=f"push_{code}")
        def push_one(target: str = code) -> dict[str, Any]:
            """Queue and deliver one agency's messages; counts only. Undelivered messages fail the task."""
            from connectors.config import load_sources as sources
            from connectors.errors import DeliveryIncompleteError
            from connectors.push import push

            ids = airflow_ids(get_current_context())
            stats = push(sources()[target], airflow=ids)
            if stats.failed:  # one truth: the hub run is 'failed', so is this task (and Airflow retries it)
                raise DeliveryIncompleteError(
                    f"{stats.failed} message(s) not delivered to {target} ({stats.dead} dead-lettered); "
                    f"hub run {stats.run_id}")
            return stats.as_dict()

        pushes.append(push_one())

    @task(trigger_rule="all_done")
    def audit_checkpoint() -> dict[str, Any]:
        """Write the audit log's chain head as a signed checkpoint outside the database (ids only)."""
        from registry import audit
        from registry.db import connect

        with connect() as conn:
            written = audit.checkpoint(conn)
        return {"audit_id": written["audit_id"] if written else None}

    pushes >> audit_checkpoint()


dag = push_dag()

if __name__ == "__main__":
    dag.test()
