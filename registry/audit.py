"""The audit log: append-only and hash-chained (``hash = sha256(prev_hash || canonical row)``).

Every steward action, lineage query, raw-bytes view, push and unmerge is appended here. Appends take an
advisory lock so the chain has no forks; ``verify`` recomputes it and names the first broken row.
Details hold ids and counts only — never personal values.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from typing import Any

import psycopg2.extensions

Conn = psycopg2.extensions.connection
GENESIS = "0" * 64
_LOCK = 0x4855_4202


def actor() -> str:
    """Who is acting: ``HUB_ACTOR`` or the operating-system user."""
    return os.environ.get("HUB_ACTOR") or os.environ.get("USER") or _login() or "unknown"


def _login() -> str | None:
    """The operating-system account when ``USER`` is not set (cron, containers, Airflow workers)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid
        return None


def _row_text(at: str, who: str, action: str, kind: str | None, oid: str | None, details: Any) -> str:
    return json.dumps(
        [at, who, action, kind, oid, details], ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )


def row_hash(
    prev: str, at: str, who: str, action: str, kind: str | None, oid: str | None, details: Any
) -> str:
    return hashlib.sha256((prev + _row_text(at, who, action, kind, oid, details)).encode()).hexdigest()


def append(
    conn: Conn,
    action: str,
    object_kind: str | None = None,
    object_id: str | None = None,
    details: dict[str, Any] | None = None,
    who: str | None = None,
) -> int:
    """Append one entry (in the caller's transaction) and return its id."""
    who, details = who or actor(), details or {}
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        cur.execute("SELECT hash FROM audit_log ORDER BY audit_id DESC LIMIT 1")
        row = cur.fetchone()
        prev = str(row[0]) if row else GENESIS
        cur.execute(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
        stamp = cur.fetchone()
        at = str(stamp[0]) if stamp else ""
        digest = row_hash(prev, at, who, action, object_kind, object_id, details)
        cur.execute(
            """INSERT INTO audit_log (at, actor, action, object_kind, object_id, details, prev_hash, hash)
               VALUES (%s::timestamptz, %s, %s, %s, %s, %s, %s, %s) RETURNING audit_id""",
            (at, who, action, object_kind, object_id, json.dumps(details, ensure_ascii=False), prev, digest),
        )
        out = cur.fetchone()
    assert out is not None
    return int(out[0])


def verify(conn: Conn) -> dict[str, Any]:
    """Recompute the chain; report the first row whose link or hash does not hold."""
    prev, count = GENESIS, 0
    with conn.cursor(name="audit_verify") as cur:
        cur.itersize = 5000
        cur.execute(
            """SELECT audit_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), actor,
                      action, object_kind, object_id, details, prev_hash, hash
               FROM audit_log ORDER BY audit_id"""
        )
        for audit_id, at, who, action, kind, oid, details, stored_prev, stored in cur:
            count += 1
            if stored_prev != prev:
                return {
                    "ok": False,
                    "rows": count,
                    "first_broken": audit_id,
                    "problem": "chain broken (a row is missing or reordered before this one)",
                }
            if row_hash(prev, at, who, action, kind, oid, details) != stored:
                return {"ok": False, "rows": count, "first_broken": audit_id, "problem": "row edited"}
            prev = stored
    return {"ok": True, "rows": count, "first_broken": None, "problem": None}
