"""Registry maintenance jobs: schema upgrade and status (called by ``hub db`` and the maintenance DAG)."""

from __future__ import annotations

import json
from typing import Any

import psycopg2.extensions

from registry import migrate
from registry.db import connect, database_url, redact

# Tables whose row counts ``hub db status`` shows, in the order the data flows.
STATUS_TABLES = (
    "source_system", "run", "raw_payload", "staged_record", "quarantine",
    "registry_person", "registry_family", "entity_link", "membership", "accompaniment_case",
    "service", "review_item", "audit_log", "outbox",
)


def upgrade_registry(url: str | None = None, airflow_context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply pending migrations and record a ``maintenance`` run; return what was done."""
    url = url or database_url()
    with connect(url, owner=True) as conn:
        result = migrate.upgrade(conn)
        run_id = _record_run(conn, result.as_dict(), airflow_context or {})
    return {"database": redact(url), "run_id": run_id, **result.as_dict()}


def _record_run(
    conn: psycopg2.extensions.connection, stats: dict[str, Any], airflow: dict[str, Any]
) -> int:
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO run (kind, status, dag_id, airflow_run_id, task_id, try_number, finished_at, stats)
               VALUES ('maintenance', 'succeeded', %s, %s, %s, %s, now(), %s) RETURNING run_id""",
            (
                airflow.get("dag_id"), airflow.get("run_id"), airflow.get("task_id"),
                airflow.get("try_number"), json.dumps(stats),
            ),
        )
        row = cur.fetchone()
    conn.commit()
    assert row is not None
    return int(row[0])


def registry_status(url: str | None = None) -> dict[str, Any]:
    """Schema version, applied migrations and row counts of the main tables."""
    url = url or database_url()
    with connect(url) as conn:
        applied = migrate.applied_versions(conn)
        known = migrate.discover()
        counts = _row_counts(conn) if applied else {}
    return {
        "database": redact(url),
        "schema_version": max(applied, default=0),
        "latest_version": known[-1].version if known else 0,
        "pending": [f"{m.version:04d}_{m.name}" for m in known if m.version not in applied],
        "rows": counts,
    }


def _row_counts(conn: psycopg2.extensions.connection) -> dict[str, int]:
    counts = {}
    with conn.cursor() as cur:
        for table in STATUS_TABLES:
            cur.execute(f"SELECT count(*) FROM {table}")
            row = cur.fetchone()
            counts[table] = int(row[0]) if row else 0
    return counts


def last_maintenance_run(url: str | None = None) -> dict[str, Any] | None:
    """The most recent ``maintenance`` run, or None."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT run_id, dag_id, airflow_run_id, task_id, try_number, finished_at, stats
               FROM run WHERE kind = 'maintenance' ORDER BY run_id DESC LIMIT 1"""
        )
        row = cur.fetchone()
    if row is None:
        return None
    keys = ("run_id", "dag_id", "airflow_run_id", "task_id", "try_number", "finished_at", "stats")
    return dict(zip(keys, row, strict=True))


VACUUM_TABLES = ("staged_record", "entity_link", "match_person", "attribute_lineage", "raw_payload",
                 "quarantine", "outbox", "membership")


def vacuum_and_retention(url: str | None = None, retention_days: int = 730) -> dict[str, Any]:
    """Delete resolved quarantine rows older than ``retention_days``; VACUUM ANALYZE the busy tables."""
    url = url or database_url()
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM quarantine WHERE resolved_at < now() - make_interval(days => %s)",
                    (retention_days,))
        deleted = cur.rowcount
    with connect(url, owner=True) as conn:
        conn.autocommit = True  # VACUUM cannot run inside a transaction; it is the tables' owner's
        with conn.cursor() as cur:
            for table in VACUUM_TABLES:
                cur.execute(f"VACUUM (ANALYZE) {table}")
    return {"quarantine_rows_deleted": deleted, "vacuumed": list(VACUUM_TABLES),
            "retention_days": retention_days}
