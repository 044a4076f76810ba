"""The environment the hub gives Airflow: home in ``.hub/airflow``, our ``dags/``, the registry URL.

Airflow reads its configuration when first imported, so the hub never imports Airflow itself; it starts
Airflow commands in subprocesses with this environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from registry.db import PROJECT_ROOT, hub_home

DAGS_FOLDER = PROJECT_ROOT / "dags"


def airflow_home() -> Path:
    """``AIRFLOW_HOME`` for the hub: ``<HUB_HOME>/airflow``."""
    return hub_home() / "airflow"


def airflow_env(
    database_url: str, home: Path | None = None, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """A copy of ``os.environ`` set up for running the hub's DAGs with ``AIRFLOW_HOME=home``."""
    home = home or airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    # Airflow starts its own parts by name (`standalone` runs `airflow scheduler` …): the venv's bin first.
    bin_dir = str(Path(sys.executable).parent)
    rest = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir]
    env["PATH"] = os.pathsep.join([bin_dir, *rest])
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            # The UI and API listen on loopback only unless a deployment says otherwise.
            "AIRFLOW__API__HOST": os.environ.get("AIRFLOW__API__HOST", "127.0.0.1"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
            "HUB_DATABASE_URL": database_url,
            "HUB_HOME": str(hub_home()),
        }
    )
    for key, value in openlineage_env(home).items():
        env.setdefault(key, value)  # a deployment's own OpenLineage setting (HTTP to Marquez) wins
    env.update(extra or {})
    return env


_EMISSION_POLICY = [
    {"scope": {}, "controls": {"include_source_code": False, "include_full_task_info": False}, "locked": True}
]


def openlineage_env(home: Path) -> dict[str, str]:
    """OpenLineage on, into ``<home>/openlineage.jsonl`` (one event a line), namespace ``family-hub``."""
    transport = {"type": "file", "log_file_path": str(home / "openlineage.jsonl"), "append": True}
    return {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "family-hub",
        # Events leave the hub: no task source code, only the curated task attributes (counts come from our
        # own facet, see hub/openlineage_support.py).
        "AIRFLOW__OPENLINEAGE__EMISSION_POLICY": json.dumps(_EMISSION_POLICY),
    }


def airflow_bin() -> str:
    """The ``airflow`` executable of the interpreter running the hub."""
    return str(Path(sys.executable).with_name("airflow"))


def run_logged(args: list[str], env: dict[str, str], log_path: Path) -> int:
    """Run ``args`` with output to ``log_path``; return the exit code."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.run(args, env=env, stdout=log, stderr=subprocess.STDOUT, check=False).returncode


def task_log_path(dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> Path:
    """Where Airflow's task supervisor wrote a task's log (its default ``log_filename_template``)."""
    base = Path(os.environ.get("AIRFLOW__LOGGING__BASE_LOG_FOLDER") or airflow_home() / "logs")
    mapped = f"map_index={map_index}/" if map_index >= 0 else ""
    task = base / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    return task / f"{mapped}attempt={try_number}.log"
