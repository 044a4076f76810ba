"""The outbox: messages to agencies, kept as the difference between entitlement and acknowledgement.

Per agency (``target_source``) and source record, ``push_state`` holds the hash of the entry the agency
last acknowledged. Messages move ``pending`` → ``delivered`` (acknowledged), or ``dead`` after too many
failed attempts (``released`` again by ``hub push retry --dead``), or ``superseded`` when a newer state
replaced them before their first attempt. Attempts are recorded *before* the send is tried and committed,
so a message that may have reached the agency keeps its idempotency key until it is acknowledged: after a
crash it is sent again under the same key, and the agency deduplicates it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg2.extensions
from psycopg2.extras import execute_values

Conn = psycopg2.extensions.connection
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600


@dataclass
class OutboxMessage:
    """A row of the outbox."""

    message_id: int
    target_source: str
    idempotency_key: str
    message_kind: str
    content_type: str
    body: bytes
    attempts: int
    entries: list[dict[str, Any]]
    due: bool = True


def enqueue(
    conn: Conn,
    target: str,
    kind: str,
    key: str,
    content_type: str,
    body: bytes,
    entries: list[dict[str, Any]],
    run_id: int | None,
) -> int:
    """Add a message; return its id."""
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO outbox (target_source, idempotency_key, message_kind, content_type, body, entries,
                                   created_run_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING message_id""",
            (target, key, kind, content_type, body, json.dumps(entries, ensure_ascii=False), run_id),
        )
        row = cur.fetchone()
    assert row is not None
    return int(row[0])


def supersede_unattempted(conn: Conn, target: str) -> int:
    """Pending messages never attempted give way to tonight's state; return how many."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE outbox SET status = 'superseded' WHERE target_source = %s AND status = 'pending' "
            "AND attempts = 0",
            (target,),
        )
        return cur.rowcount


def outstanding_hashes(conn: Conn, target: str) -> dict[str, str]:
    """source record id → entry hash of the latest message not yet acknowledged (pending or dead)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT DISTINCT ON (e ->> 'source_record_id') e ->> 'source_record_id', e ->> '_sha256'
               FROM outbox o, jsonb_array_elements(o.entries) e
               WHERE o.target_source = %s AND o.status IN ('pending', 'dead')
               ORDER BY e ->> 'source_record_id', o.message_id DESC""",
            (target,),
        )
        return {str(a): str(b) for a, b in cur.fetchall()}


def pending_in_order(conn: Conn, target: str, limit: int = 1000) -> list[OutboxMessage]:
    """Pending messages oldest first, each marked whether its next attempt is due."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT message_id, target_source, idempotency_key, message_kind, content_type, body, attempts,
                      entries, next_attempt_at <= now()
               FROM outbox WHERE target_source = %s AND status = 'pending'
               ORDER BY message_id LIMIT %s""",
            (target, limit),
        )
        return [OutboxMessage(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6], r[7], bool(r[8]))
                for r in cur.fetchall()]


def record_attempt(conn: Conn, message: OutboxMessage) -> None:
    """Count the attempt about to be made (the caller commits before sending)."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = now() WHERE message_id = %s",
            (message.message_id,),
        )
    message.attempts += 1


def mark_delivered(conn: Conn, message: OutboxMessage, entry_hashes: dict[str, str]) -> None:
    """Acknowledged: remember what the agency now has per source record."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE outbox SET status = 'delivered', delivered_at = now(), last_error = NULL "
            "WHERE message_id = %s",
            (message.message_id,),
        )
        rows = [
            (message.target_source, sid, digest, message.message_id) for sid, digest in entry_hashes.items()
        ]
        if rows:
            execute_values(
                cur,
                """INSERT INTO push_state (target_source, source_record_id, entry_sha256, message_id)
                   VALUES %s
                   ON CONFLICT (target_source, source_record_id) DO UPDATE
                   SET entry_sha256 = EXCLUDED.entry_sha256, message_id = EXCLUDED.message_id,
                       delivered_at = now()""",
                rows,
            )


def mark_failed(
    conn: Conn, message: OutboxMessage, error: str, max_attempts: int, fatal: bool = False
) -> str:
    """A failed attempt: back off exponentially, or dead-letter after ``max_attempts`` (or at once, fatal)."""
    status = "dead" if fatal or message.attempts >= max_attempts else "pending"
    delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, message.attempts - 1))
    with conn.cursor() as cur:
        cur.execute(
            """UPDATE outbox SET status = %s, last_error = %s,
                      next_attempt_at = now() + make_interval(secs => %s)
               WHERE message_id = %s""",
            (status, error[:500], delay, message.message_id),
        )
    return status


def release_dead(conn: Conn, target: str) -> int:
    """Let dead letters' entries be queued again (``hub push retry --dead``); return how many."""
    with conn.cursor() as cur:
        cur.execute("UPDATE outbox SET status = 'released' WHERE target_source = %s AND status = 'dead'",
                    (target,))
        return cur.rowcount


def delivered_hashes(conn: Conn, target: str) -> dict[str, str]:
    """source record id → hash of the entry the agency last acknowledged."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT source_record_id, entry_sha256 FROM push_state WHERE target_source = %s", (target,)
        )
        return {str(a): str(b) for a, b in cur.fetchall()}


def acknowledged_entries(conn: Conn, target: str, source_record_ids: list[str]) -> dict[str, dict[str, Any]]:
    """source record id → the entry (as queued) of the message the agency last acknowledged for it."""
    if not source_record_ids:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            """SELECT ps.source_record_id, e FROM push_state ps
               JOIN outbox o ON o.message_id = ps.message_id
               CROSS JOIN LATERAL jsonb_array_elements(o.entries) e
               WHERE ps.target_source = %s AND ps.source_record_id = ANY(%s::text[])
                 AND e ->> 'source_record_id' = ps.source_record_id""",
            (target, source_record_ids),
        )
        return {str(sid): dict(entry) for sid, entry in cur.fetchall()}
