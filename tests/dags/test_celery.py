"""The hub's DAGs on CeleryExecutor: Airflow's scheduler runs a night, two Celery workers run its tasks.

Real processes (``hub.celery_check --scheduler``): Airflow metadata in PostgreSQL, Redis as the broker, the
Execution API, the scheduler and dag-processor, two ``airflow celery worker --concurrency 1``; skipped when
no Redis answers on 127.0.0.1:6379.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.celery_check import DEFAULT_BROKER, WORKERS, redis_answers, run_check

pytestmark = [
    pytest.mark.celery,
    pytest.mark.airflow,
    pytest.mark.skipif(not redis_answers(DEFAULT_BROKER), reason=f"no Redis answers at {DEFAULT_BROKER}"),
]


def test_the_scheduler_runs_a_night_on_two_celery_workers(pg_server_url: str, tmp_path: Path) -> None:
    report = run_check(pg_server_url, DEFAULT_BROKER, families=30, work=tmp_path, scheduler=True)

    assert report["succeeded"], report["dag_runs"]
    # the check triggered maintenance and the pulls; the scheduler chained the rest through the assets
    assert any("dag_id=reconcile run_type=asset_triggered state=success" in r for r in report["dag_runs"])
    assert any("dag_id=push run_type=asset_triggered state=success" in r for r in report["dag_runs"])
    tis = report["task_instances"]
    assert {t["dag_id"] for t in tis} >= {"registry_maintenance", "pull_ngo", "reconcile", "push"}
    assert all(t["state"] == "success" for t in tis)
    # every task was run by one of the two workers (whose host name says which), none by the runner itself
    assert all(str(t["hostname"]).split("@")[0] in WORKERS for t in tis), [t["hostname"] for t in tis]
    assert set(report["tasks_by_worker"]) == set(WORKERS)
    for worker in WORKERS:
        executed = [ln for ln in report["worker_log_lines"][worker] if "Executing workload in Celery" in ln]
        assert len(executed) >= len(report["tasks_by_worker"][worker])  # a retried task shows twice
    assert report["registry"]["persons"] > 0  # the tasks did the night's work in the registry
