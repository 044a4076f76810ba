"""Run one DAG file through Airflow's ``dag.test()`` and exit non-zero unless the run succeeded.

``python -m hub.airflow_runner dags/registry_maintenance.py`` — used by ``hub demo`` and the tests, in a
subprocess whose environment comes from ``hub.airflow_env``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def run_dag_file(path: Path, dag_attr: str = "dag") -> str:
    """Import ``path``, run its DAG with ``dag.test()`` and return the final run state."""
    spec = importlib.util.spec_from_file_location(f"hub_dag_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag_run = getattr(module, dag_attr).test()
    return str(getattr(dag_run, "state", "unknown"))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m hub.airflow_runner DAG_FILE", file=sys.stderr)
        return 2
    state = run_dag_file(Path(argv[0]))
    print(f"HUB_DAG_RUN_STATE={state}")
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
