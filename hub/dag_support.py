"""Small helpers shared by the DAG files; importing this module is cheap (no Airflow, no database)."""

from __future__ import annotations

import logging
from collections.abc import Callable
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

ASSET_SCHEME = "x-family-hub"


def staging_asset_uri(source: str) -> str:
    """The asset a source's pull updates: its staged records."""
    return f"{ASSET_SCHEME}://staging/{source}"


REGISTRY_ASSET_URI = f"{ASSET_SCHEME}://registry/reconciled"


def airflow_ids(context: Any) -> dict[str, Any]:
    """The ids an auditor needs to find a task try again: dag_id, run_id, task_id, try_number."""
    ti = context["ti"]
    return {"dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id, "try_number": ti.try_number}


def failure_recorder(kind: str, source: str | None = None) -> Callable[[Any], None]:
    """An ``on_failure_callback``: the failed try into the registry's run table, then the alert (if on)."""

    def record(context: Any) -> None:
        try:
            from registry.db import connect
            from registry.runs import record_failed_try

            exc = context.get("exception")
            message = f"{type(exc).__name__}: {str(exc)[:300]}" if exc is not None else "task failed"
            with connect() as conn:
                record_failed_try(conn, kind, source, airflow_ids(context), message)
        except Exception:  # a failure callback must never hide the original failure
            logging.getLogger("hub.dags").exception("could not record the failed try in the registry")
        from hub.alerts import notify_failure

        notify_failure(context)

    return record
