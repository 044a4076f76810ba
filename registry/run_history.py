"""``hub runs list`` / ``hub runs show``: what each pull, reconcile, push, maintenance or replay run did.

Counts, positions and hashes only — never a personal value (a run's stats and errors are written that way,
and payload positions name pages, files and message ids, not people).
"""

from __future__ import annotations

from typing import Any

import psycopg2.extensions

Conn = psycopg2.extensions.connection

RUN_KINDS = ("pull", "reconcile", "push", "maintenance", "replay")
_RUN_COLUMNS = ("run_id", "kind", "source_code", "status", "dag_id", "airflow_run_id", "task_id",
                "try_number", "started_at", "finished_at", "stats", "error")
_PAYLOAD_COLUMNS = ("payload_id", "sha256", "size_bytes", "content_type", "position", "chunk_count",
                    "record_count", "received_at", "processed_at", "first_run_id")


def list_runs(conn: Conn, kind: str | None = None, source: str | None = None, limit: int = 50
              ) -> list[dict[str, Any]]:
    """The newest runs first, optionally of one kind and/or one source."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT {', '.join(_RUN_COLUMNS)} FROM run
                WHERE (%(kind)s::text IS NULL OR kind = %(kind)s)
                  AND (%(source)s::text IS NULL OR source_code = %(source)s)
                ORDER BY run_id DESC LIMIT %(limit)s""",
            {"kind": kind, "source": source, "limit": limit},
        )
        return [dict(zip(_RUN_COLUMNS, row, strict=True)) for row in cur.fetchall()]


def show_run(conn: Conn, run_id: int) -> dict[str, Any] | None:
    """One run with the payloads it stored or staged from and the rows it wrote; None if there is none."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT {', '.join(_RUN_COLUMNS)} FROM run WHERE run_id = %s", (run_id,))
        row = cur.fetchone()
    if row is None:
        return None
    run = dict(zip(_RUN_COLUMNS, row, strict=True))
    run["airflow"] = {k: run.pop(k) for k in ("dag_id", "airflow_run_id", "task_id", "try_number")}
    run["payloads"] = _payloads(conn, run_id)
    run["staged"] = _staged(conn, run_id)
    run["quarantined"] = _grouped(conn, "SELECT reason_code, count(*) FROM quarantine WHERE run_id = %s "
                                  "GROUP BY 1 ORDER BY 1", run_id)
    run["reconciled_records"] = _count(
        conn, "SELECT count(*) FROM staged_reconcile WHERE run_id = %s", run_id)
    run["replays"] = [int(r) for r in _column(
        conn, "SELECT run_id FROM run WHERE kind = 'replay' AND stats->>'replay_of' = %s::text ORDER BY 1",
        run_id)]
    return run


def _payloads(conn: Conn, run_id: int) -> list[dict[str, Any]]:
    """Raw payloads first stored by the run or holding records it staged or quarantined (no bytes)."""
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT {', '.join(_PAYLOAD_COLUMNS)} FROM raw_payload WHERE payload_id IN (
                    SELECT payload_id FROM raw_payload WHERE first_run_id = %(run)s
                    UNION SELECT payload_id FROM staged_record WHERE run_id = %(run)s
                    UNION SELECT payload_id FROM quarantine WHERE run_id = %(run)s)
                ORDER BY payload_id""",
            {"run": run_id},
        )
        rows = [dict(zip(_PAYLOAD_COLUMNS, r, strict=True)) for r in cur.fetchall()]
    for r in rows:
        r["first_stored_by_this_run"] = r.pop("first_run_id") == run_id
    return rows


def _staged(conn: Conn, run_id: int) -> dict[str, dict[str, int]]:
    """Staged rows the run wrote, per record kind: all, still current, superseded since, deleted since."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT record_kind, count(*),
                      count(*) FILTER (WHERE superseded_by IS NULL AND deleted_at IS NULL),
                      count(*) FILTER (WHERE superseded_by IS NOT NULL),
                      count(*) FILTER (WHERE deleted_at IS NOT NULL)
               FROM staged_record WHERE run_id = %s GROUP BY 1 ORDER BY 1""",
            (run_id,),
        )
        keys = ("rows", "current", "superseded", "deleted")
        return {str(r[0]): dict(zip(keys, map(int, r[1:]), strict=True)) for r in cur.fetchall()}


def _grouped(conn: Conn, sql: str, run_id: int) -> dict[str, int]:
    with conn.cursor() as cur:
        cur.execute(sql, (run_id,))
        return {str(k): int(n) for k, n in cur.fetchall()}


def _count(conn: Conn, sql: str, run_id: int) -> int:
    with conn.cursor() as cur:
        cur.execute(sql, (run_id,))
        row = cur.fetchone()
    return int(row[0]) if row else 0


def _column(conn: Conn, sql: str, run_id: int) -> list[Any]:
    with conn.cursor() as cur:
        cur.execute(sql, (run_id,))
        return [r[0] for r in cur.fetchall()]
