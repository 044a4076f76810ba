"""
### Push back to the agencies

After each reconcile: for every agency with a push configuration, queue what changed (registry ids of its
records, accompaniment status — only the fields in its `push.fields`) in the outbox and deliver it in the
agency's format (JSON, SMEV envelope, file). Each message goes once (idempotency key), is retried with
backoff and dead-lettered after `push.max_attempts`.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Asset, dag, get_current_context

from connectors.config import load_nightly, load_sources
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
    default_args={**DEFAULT_ARGS, "on_failure_callback": failure_recorder("push")},
    tags=["family-hub", "push"],
    doc_md=__doc__,
)
def push_dag() -> None:
    for code in _targets:

        @hub_task(push_lineage(code), task_id=f"push_{code}")
        def push_one(target: str = code) -> dict[str, Any]:
            """Queue and deliver one agency's messages; counts only."""
            from connectors.config import load_sources as sources
            from connectors.push import push

            ids = airflow_ids(get_current_context())
            return push(sources()[target], airflow=ids).as_dict()

        push_one()


dag = push_dag()

if __name__ == "__main__":
    dag.test()
