"""A real Airflow run of ``registry_maintenance`` (``dag.test()``) against a fresh registry database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from registry import migrate
from registry.db import connect

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.airflow
def test_dag_run_migrates_and_records_the_airflow_ids(empty_database_url: str, tmp_path: Path) -> None:
    from hub.airflow_env import airflow_env

    env = airflow_env(empty_database_url, home=tmp_path / "af", extra={"HUB_HOME": str(tmp_path)})
    bin_dir = Path(sys.executable).parent
    migrate_db = subprocess.run([str(bin_dir / "airflow"), "db", "migrate"], env=env, capture_output=True,
                                text=True, check=False)
    assert migrate_db.returncode == 0, migrate_db.stdout[-2000:]

    run = subprocess.run(
        [sys.executable, "-m", "hub.airflow_runner", str(ROOT / "dags" / "registry_maintenance.py")],
        env=env, capture_output=True, text=True, check=False, cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "HUB_DAG_RUN_STATE=success" in run.stdout

    with connect(empty_database_url) as conn, conn.cursor() as cur:
        assert max(migrate.applied_versions(conn)) == len(migrate.discover())
        cur.execute("SELECT dag_id, task_id, try_number, stats FROM run WHERE kind = 'maintenance'")
        rows = cur.fetchall()
    assert len(rows) == 1
    dag_id, task_id, try_number, stats = rows[0]
    assert (dag_id, task_id, try_number) == ("registry_maintenance", "apply_migrations", 1)
    assert [m["version"] for m in stats["applied"]] == [m.version for m in migrate.discover()]
