"""Small helpers shared by the DAG files; importing this module is cheap (no Airflow, no database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "family-hub",
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(minutes=30),
}
"""Retries with exponential backoff and a timeout for every task of every hub DAG."""


def airflow_ids(context: Any) -> dict[str, Any]:
    """The ids an auditor needs to find a task try again: dag_id, run_id, task_id, try_number."""
    ti = context["ti"]
    return {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id, "try_number": ti.try_number}
