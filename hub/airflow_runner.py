"""Run DAGs through Airflow's ``dag.test()`` in one process; exit non-zero unless every run succeeded.

``python -m hub.airflow_runner dags/registry_maintenance.py dags/hub_pull.py:pull_ngo …`` — a DAG is named
by its file and, when the file makes several DAGs, the module attribute. Used by ``hub demo`` and the
tests, in a subprocess whose environment comes from ``hub.airflow_env``. One process for all DAGs: the
first ``dag.test()`` pays Airflow's start-up once.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

_modules: dict[Path, ModuleType] = {}


def load(path: Path) -> ModuleType:
    """Import a DAG file once."""
    if path not in _modules:
        spec = importlib.util.spec_from_file_location(f"hub_dag_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise SystemExit(f"error: cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _modules[path] = module
    return _modules[path]


def run_dag(spec: str) -> tuple[str, str, float]:
    """Run ``FILE[:ATTR]``; return (dag id, final state, seconds)."""
    file, _, attr = spec.partition(":")
    dag: Any = getattr(load(Path(file)), attr or "dag")
    started = time.monotonic()
    dag_run = dag.test()
    return dag.dag_id, str(getattr(dag_run, "state", "unknown")), time.monotonic() - started


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m hub.airflow_runner DAG_FILE[:ATTR] ...", file=sys.stderr)
        return 2
    failed = 0
    for spec in argv:
        dag_id, state, seconds = run_dag(spec)
        print(f"HUB_DAG_RUN dag_id={dag_id} state={state} seconds={seconds:.1f}", flush=True)
        failed += state != "success"
    print(f"HUB_DAG_RUN_STATE={'success' if not failed else 'failed'}", flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
