"""The outbox: messages to agencies, each delivered once per idempotency key, retried, then dead-lettered."""

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


def enqueue(
    conn: Conn,
    target: str,
    kind: str,
    key: str,
    content_type: str,
    body: bytes,
    entries: list[dict[str, Any]],
    run_id: int | None,
) -> bool:
    """Add a message unless one with the same idempotency key exists; True when added."""
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO outbox (target_source, idempotency_key, message_kind, content_type, body, entries,
                                   created_run_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (idempotency_key) DO NOTHING""",
            (target, key, kind, content_type, body, json.dumps(entries, ensure_ascii=False), run_id),
        )
        return bool(cur.rowcount)


def due(conn: Conn, target: str, limit: int = 1000) -> list[OutboxMessage]:
    """Pending messages whose next attempt is due, oldest first."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT message_id, target_source, idempotency_key, message_kind, content_type, body, attempts,
                      entries
               FROM outbox WHERE target_source = %s AND status = 'pending' AND next_attempt_at <= now()
               ORDER BY message_id LIMIT %s""",
            (target, limit),
        )
        return [OutboxMessage(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), r[6], r[7]) for r in cur.fetchall()]


def mark_delivered(conn: Conn, message: OutboxMessage, entry_hashes: dict[str, str]) -> None:
    """Delivered: remember what the agency now has per source record."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE outbox SET status = 'delivered', delivered_at = now(), attempts = attempts + 1, "
            "last_error = NULL WHERE message_id = %s",
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


def mark_failed(conn: Conn, message: OutboxMessage, error: str, max_attempts: int) -> str:
    """One more failed attempt: back off exponentially, or dead-letter after ``max_attempts``."""
    attempts = message.attempts + 1
    status = "dead" if attempts >= max_attempts else "pending"
    delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempts - 1))
    with conn.cursor() as cur:
        cur.execute(
            """UPDATE outbox SET attempts = %s, status = %s, last_error = %s,
                      next_attempt_at = now() + make_interval(secs => %s)
               WHERE message_id = %s""",
            (attempts, status, error[:500], delay, message.message_id),
        )
    return status


def delivered_hashes(conn: Conn, target: str) -> dict[str, str]:
    """source record id → hash of the entry the agency last received."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT source_record_id, entry_sha256 FROM push_state WHERE target_source = %s", (target,)
        )
        return {str(a): str(b) for a, b in cur.fetchall()}


def pending_keys(conn: Conn, target: str) -> set[str]:
    """Idempotency keys of messages not yet delivered (so a second push does not queue them again)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT idempotency_key FROM outbox WHERE target_source = %s AND status = 'pending'", (target,)
        )
        return {str(r[0]) for r in cur.fetchall()}
