"""``make demo``: the main job. Today it brings up the registry and migrates it through an Airflow DAG run.

It grows with the nightly sync: the sandbox agencies, two nights, the summary table.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from hub.airflow_env import DAGS_FOLDER, airflow_bin, airflow_env, airflow_home, run_logged
from registry.db import database_url, hub_home, redact
from registry.maintenance import last_maintenance_run, registry_status


def run_demo(say: Callable[[str], None] = click.echo) -> dict[str, Any]:
    """Run the demo; return its summary. Raises ``click.ClickException`` when a step fails."""
    started = time.monotonic()
    url = database_url()
    say(f"registry      {redact(url)}")
    env = airflow_env(url)
    logs = hub_home() / "logs"
    _step(say, "airflow metadata", [airflow_bin(), "db", "migrate"], env, logs / "airflow-db-migrate.log")
    dag_file = DAGS_FOLDER / "registry_maintenance.py"
    _step(say, "dag registry_maintenance", [sys.executable, "-m", "hub.airflow_runner", str(dag_file)],
          env, logs / "dag-registry_maintenance.log")
    run = last_maintenance_run(url)
    status = registry_status(url)
    summary = {"seconds": round(time.monotonic() - started, 1), "maintenance_run": run, "registry": status}
    say(_report(summary))
    return summary


def _step(say: Callable[[str], None], label: str, args: list[str], env: dict[str, str], log: Any) -> None:
    t0 = time.monotonic()
    code = run_logged(args, env, log)
    if code != 0:
        raise click.ClickException(f"{label} failed (exit {code}); see {log}")
    say(f"{label:<13} ok in {time.monotonic() - t0:.1f}s (log: {log})")


def _report(summary: dict[str, Any]) -> str:
    run = summary["maintenance_run"] or {}
    stats = run.get("stats") or {}
    applied = stats.get("applied", [])
    names = ", ".join(f"{m['version']:04d}_{m['name']}" for m in applied) or "none (already up to date)"
    status = summary["registry"]
    return "\n".join(
        [
            "",
            f"The Airflow DAG run {run.get('dag_id')} / {run.get('airflow_run_id')} "
            f"(task {run.get('task_id')}, try {run.get('try_number')}) migrated the registry:",
            f"  migrations applied by this run: {names}",
            f"  schema version now: {status['schema_version']} of {status['latest_version']}",
            f"  registry run id: {run.get('run_id')}",
            f"Done in {summary['seconds']}s. Explore: .venv/bin/hub db status; "
            f"Airflow home is {airflow_home()} (make airflow for the UI).",
        ]
    )
