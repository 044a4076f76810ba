"""Runs: one row per pull, reconcile, push, maintenance or replay, with the Airflow ids when there are any."""

from __future__ import annotations

import json
from typing import Any

import psycopg2.extensions

Conn = psycopg2.extensions.connection


def ensure_source_system(conn: Conn, code: str, agency: str, name: str, fmt: str) -> None:
    """Insert or refresh the ``source_system`` row of a configured source."""
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO source_system (code, agency, name, format) VALUES (%s, %s, %s, %s)
               ON CONFLICT (code) DO UPDATE SET agency = EXCLUDED.agency, name = EXCLUDED.name,
                                                format = EXCLUDED.format""",
            (code, agency, name, fmt),
        )


def start_run(conn: Conn, kind: str, source_code: str | None, airflow: dict[str, Any] | None = None) -> int:
    """Open a run and commit it at once, so a crash still leaves a trace of the attempt."""
    airflow = airflow or {}
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO run (kind, source_code, dag_id, airflow_run_id, task_id, try_number)
               VALUES (%s, %s, %s, %s, %s, %s) RETURNING run_id""",
            (
                kind,
                source_code,
                airflow.get("dag_id"),
                airflow.get("run_id"),
                airflow.get("task_id"),
                airflow.get("try_number"),
            ),
        )
        row = cur.fetchone()
    conn.commit()
    assert row is not None
    return int(row[0])


def finish_run(conn: Conn, run_id: int, status: str, stats: dict[str, Any], error: str | None = None) -> None:
    """Close a run with its counts (never personal data) and, on failure, a one-line error."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE run SET status = %s, finished_at = now(), stats = %s, error = %s WHERE run_id = %s",
            (status, json.dumps(stats, default=str), error, run_id),
        )
    conn.commit()


def fail_stale_runs(conn: Conn, source_code: str) -> int:
    """Mark runs of ``source_code`` left 'running' by a killed process as failed; return how many."""
    with conn.cursor() as cur:
        cur.execute(
            """UPDATE run SET status = 'failed', finished_at = now(),
                              error = 'interrupted (the process ended without closing the run)'
               WHERE source_code = %s AND status = 'running'""",
            (source_code,),
        )
        count = cur.rowcount
    conn.commit()
    return count


def record_failed_try(conn: Conn, kind: str, source_code: str | None, airflow: dict[str, Any],
                      error: str) -> int:
    """Record an Airflow task try that failed (timeouts and crashes included) as a failed run."""
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO run (kind, source_code, status, dag_id, airflow_run_id, task_id, try_number,
                                finished_at, stats, error)
               VALUES (%s, %s, 'failed', %s, %s, %s, %s, now(), '{"recorded_by": "failure_callback"}', %s)
               RETURNING run_id""",
            (kind, source_code, airflow.get("dag_id"), airflow.get("run_id"), airflow.get("task_id"),
             airflow.get("try_number"), error),
        )
        row = cur.fetchone()
    conn.commit()
    assert row is not None
    return int(row[0])


def pulls_since(conn: Conn, since: str) -> dict[str, str]:
    """source → status of its latest pull run that started after ``since`` (ISO instant)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT DISTINCT ON (source_code) source_code, status FROM run
               WHERE kind = 'pull' AND started_at > %s::timestamptz
               ORDER BY source_code, started_at DESC""",
            (since,),
        )
        return {str(s): str(st) for s, st in cur.fetchall()}
