"""
### Reconcile the night into the registry

Runs when every source's pull has updated its staging asset tonight — or at the deadline
(`nightly.reconcile_deadline` in `config/sources.yaml`) with what arrived, naming the late sources.
New and changed staged records are matched against the registry (deterministic identifier rules, then
Fellegi–Sunter scores from the versioned Splink model), linked with persistent registry ids, survivorship
applied; uncertain pairs go to the stewards' review queue. Updates the asset the push DAG waits for.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import Asset, dag, get_current_context, task
from airflow.sdk.definitions.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from connectors.config import load_nightly, load_sources
from hub.alerts import night_deadline
from hub.dag_support import DEFAULT_ARGS, REGISTRY_ASSET_URI, airflow_ids, failure_recorder, staging_asset_uri
from hub.openlineage_support import hub_task, reconcile_lineage

_nightly = load_nightly()
_sources = sorted(load_sources())
_staged = [Asset(name=f"staging_{code}", uri=staging_asset_uri(code)) for code in _sources]
_registry = Asset(name="registry_reconciled", uri=REGISTRY_ASSET_URI)


@dag(
    dag_id="reconcile",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(_nightly.reconcile_deadline, timezone=_nightly.timezone),
        assets=_staged,
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz=_nightly.timezone),
    catchup=False,
    max_active_runs=1,
    deadline=night_deadline("reconcile"),
    default_args={**DEFAULT_ARGS, "on_failure_callback": failure_recorder("reconcile")},
    tags=["family-hub", "reconcile", "registry"],
    doc_md=__doc__,
)
def reconcile_dag() -> None:
    @task
    def check_arrivals() -> dict[str, Any]:
        """Which sources delivered since the last reconcile, and which are late."""
        from registry.db import connect
        from registry.nightly import arrivals

        with connect() as conn:
            return arrivals(conn, _sources)

    @hub_task(reconcile_lineage(_sources), outlets=[_registry])
    def reconcile(arrived: dict[str, Any]) -> dict[str, Any]:
        """Match, link and apply survivorship for what arrived; counts only in the result."""
        from matching.reconcile import reconcile as run_reconcile

        stats = run_reconcile(airflow=airflow_ids(get_current_context()))
        return {**stats, "late_sources": arrived["late"]}

    reconcile(check_arrivals())


dag = reconcile_dag()

if __name__ == "__main__":
    dag.test()
