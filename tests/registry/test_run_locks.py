"""One run per kind and scope: a second is refused with the run in progress named; a dead one is abandoned."""

from __future__ import annotations

import subprocess
import sys

import pytest

from registry.db import connect
from registry.errors import RunBusyError
from registry.runs import ensure_source_system, exclusive_run, start_run


def _status(url: str, run_id: int) -> str:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT status FROM run WHERE run_id = %s", (run_id,))
        row = cur.fetchone()
    assert row is not None
    return str(row[0])


def test_a_second_run_of_the_same_scope_is_refused_naming_the_first(empty_database_url: str) -> None:
    from registry import migrate

    url = empty_database_url
    with connect(url) as conn:
        migrate.upgrade(conn)
        ensure_source_system(conn, "locked", "ngo", "lock test", "rest_cursor")
    with exclusive_run(url, "pull", "locked"):
        with connect(url) as conn:
            run_id = start_run(conn, "pull", "locked")
        busy = pytest.raises(RunBusyError, match=f"another pull of locked is running \\(run {run_id}")
        with busy, exclusive_run(url, "pull", "locked"):
            pass
        with exclusive_run(url, "pull", None), exclusive_run(url, "push", "locked"):
            pass  # other scopes and kinds are not blocked
        assert _status(url, run_id) == "running"


def test_a_run_left_by_a_killed_process_is_abandoned_by_the_next(empty_database_url: str) -> None:
    from registry import migrate

    url = empty_database_url
    with connect(url) as conn:
        migrate.upgrade(conn)
        ensure_source_system(conn, "killed", "ngo", "lock test", "rest_cursor")
    script = (
        "import os, sys\n"
        "from registry.db import connect\n"
        "from registry.runs import exclusive_run, start_run\n"
        f"with exclusive_run({url!r}, 'pull', 'killed'):\n"
        f"    with connect({url!r}) as conn:\n"
        "        print(start_run(conn, 'pull', 'killed'), flush=True)\n"
        "    os._exit(9)  # dies holding the lock, its run 'running'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    run_id = int(done.stdout.strip())
    assert _status(url, run_id) == "running"
    with exclusive_run(url, "pull", "killed") as abandoned:
        assert abandoned == 1
    assert _status(url, run_id) == "abandoned"
