"""Runs: one row per pull, reconcile, push, maintenance or replay, with the Airflow ids when there are any."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2.extensions

from registry.db import connect_raw
from registry.errors import RunBusyError

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


@contextmanager
def exclusive_run(url: str, kind: str, scope: str | None, wait_seconds: float = 0.0) -> Iterator[int]:
    """Hold the advisory lock of (``kind``, ``scope``) for a run; yield how many runs were abandoned.

    Only one pull per source, one push per agency and one reconcile run at a time: a second one fails at
    once with ``RunBusyError`` naming the run in progress (or waits up to ``wait_seconds``). The lock lives
    in a connection of its own, so PostgreSQL releases it when the process dies — and whoever takes it next
    knows that any run of its kind still marked 'running' belongs to a dead process: it marks them
    'abandoned'.
    """
    lock_conn = connect_raw(url)
    lock_conn.autocommit = True
    key = f"hub-run:{kind}:{scope or '*'}"
    try:
        if not _take_lock(lock_conn, key, wait_seconds):
            raise RunBusyError(_busy_message(lock_conn, kind, scope))
        with lock_conn.cursor() as cur:
            cur.execute(
                """UPDATE run SET status = 'abandoned', finished_at = now(),
                                  error = 'abandoned: its process ended without closing the run'
                   WHERE kind = %s AND source_code IS NOT DISTINCT FROM %s AND status = 'running'""",
                (kind, scope),
            )
            abandoned = cur.rowcount
        yield abandoned
    finally:
        lock_conn.close()  # ends the session: the lock goes with it


def _take_lock(conn: Conn, key: str, wait_seconds: float) -> bool:
    deadline = time.monotonic() + wait_seconds
    while True:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,))
            row = cur.fetchone()
        if row is not None and row[0]:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _busy_message(conn: Conn, kind: str, scope: str | None) -> str:
    with conn.cursor() as cur:
        cur.execute(
            """SELECT run_id, started_at FROM run WHERE kind = %s AND source_code IS NOT DISTINCT FROM %s
               AND status = 'running' ORDER BY run_id DESC LIMIT 1""",
            (kind, scope),
        )
        row = cur.fetchone()
    what = f"{kind} of {scope}" if scope else kind
    since = f" (run {row[0]}, started {row[1]:%Y-%m-%d %H:%M:%S %Z})" if row else ""
    return f"another {what} is running{since}; try again when it has finished"


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
