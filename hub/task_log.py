"""A hub run's Airflow task log, read from Airflow's log folder (what the UI's Logs tab shows).

Task processes started by a scheduler write one JSON object a line (structlog); this reads the last lines
and renders each as ``time level event`` (with an exception's type and message when the line has one).
Runs made by ``dag.test()`` (the demo's first night, the tests) log to the runner's output instead: there
is no file, and the answer says so.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from hub.airflow_env import task_log_path


def task_log(airflow: dict[str, Any], last: int) -> dict[str, Any] | None:
    """``{"path", "found", "lines"}`` for the run's task (None for a run outside Airflow)."""
    if not airflow.get("dag_id") or not airflow.get("airflow_run_id") or not airflow.get("task_id"):
        return None
    try:
        attempt = int(airflow.get("try_number") or 1)
    except ValueError:
        attempt = 1
    path = task_log_path(airflow["dag_id"], airflow["airflow_run_id"], airflow["task_id"], attempt)
    if not path.is_file():
        return {"path": str(path), "found": False, "lines": []}
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        tail = deque(fh, maxlen=max(last, 0))
    return {"path": str(path), "found": True, "lines": [render(line) for line in tail]}


def render(line: str) -> str:
    """One log line as text: a structured line as ``HH:MM:SS level event``, anything else as it is."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line.rstrip("\n")
    if not isinstance(entry, dict):
        return line.rstrip("\n")
    stamp = str(entry.get("timestamp", ""))[11:19]
    text = f"{stamp} {entry.get('level', '')!s:<7} {entry.get('event', '')}"
    details = entry.get("error_detail")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        text += f" [{details[0].get('exc_type', '')}: {details[0].get('exc_value', '')}]"
    return text
