"""Push: tell each agency the registry ids of its records and accompaniment status — only what it may know.

``enqueue`` compares what the registry says now with what the agency already received (``push_state``) and
queues the differences in the outbox, in batches, each with an idempotency key derived from its entries.
``deliver`` sends due messages in the agency's format; a failed attempt backs off exponentially and a
message is dead-lettered after ``push.max_attempts``. Fields outside the agency's ``push.fields`` never
leave the hub (health details never reach the NGO).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg2.extensions

from connectors.config import SourceConfig
from connectors.connections import get_connection
from connectors.errors import ConnectorError, ProtocolViolationError
from connectors.http import client_for
from connectors.push import formats
from registry import audit, outbox
from registry.db import connect, database_url
from registry.runs import exclusive_run, finish_run, start_run

Conn = psycopg2.extensions.connection
ALL_FIELDS = ("registry_person_id", "registry_family_id", "accompaniment_status", "disability_status")

_ENTRIES_SQL = """
SELECT l.source_record_id, l.person_id, fam.family_id,
       CASE WHEN c.case_id IS NULL THEN 'none'
            WHEN c.stage = 'post_accompaniment' THEN 'post_accompaniment'
            WHEN c.closed_on IS NOT NULL THEN 'closed' ELSE 'active' END,
       (SELECT string_agg(DISTINCT h.kind, ',' ORDER BY h.kind) FROM health_status h
         WHERE h.person_id = l.person_id AND (h.valid_until IS NULL OR h.valid_until >= current_date))
FROM entity_link l
LEFT JOIN LATERAL (SELECT m.family_id FROM membership m
                   WHERE m.person_id = l.person_id AND m.period_to IS NULL
                   ORDER BY m.period_from DESC NULLS LAST LIMIT 1) fam ON true
LEFT JOIN LATERAL (SELECT ac.case_id, ac.stage, ac.closed_on FROM accompaniment_case ac
                   WHERE ac.family_id = fam.family_id ORDER BY ac.opened_on DESC LIMIT 1) c ON true
WHERE l.source_code = %s AND l.record_kind = 'person' AND l.valid_to IS NULL
ORDER BY l.source_record_id
"""


@dataclass
class PushStats:
    """Counts of one push (no personal data)."""

    source: str
    run_id: int = 0
    entries_changed: int = 0
    queued: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def current_entries(conn: Conn, source: SourceConfig) -> list[dict[str, Any]]:
    """What the agency may know now, per source record: only its allowed fields."""
    assert source.push is not None
    allowed = [f for f in ALL_FIELDS if f in source.push.fields]
    pattern = re.compile(source.push.record_pattern) if source.push.record_pattern else None
    with conn.cursor() as cur:
        cur.execute(_ENTRIES_SQL, (source.code,))
        rows = cur.fetchall()
    entries = []
    for sid, person, family, status, health in rows:
        if pattern is not None and not pattern.search(sid):
            continue
        full = {
            "registry_person_id": person,
            "registry_family_id": family,
            "accompaniment_status": status,
            "disability_status": health,
        }
        entries.append({"source_record_id": sid, **{f: full[f] for f in allowed}})
    return entries


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(entry, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def enqueue(conn: Conn, source: SourceConfig, run_id: int | None) -> tuple[int, int]:
    """Queue what changed since the agency's last delivery; return (entries changed, messages queued)."""
    assert source.push is not None
    sent = outbox.delivered_hashes(conn, source.code)
    changed = [e for e in current_entries(conn, source) if sent.get(e["source_record_id"]) != entry_hash(e)]
    queued = 0
    size = source.push.batch_size
    for start in range(0, len(changed), size):
        batch = changed[start : start + size]
        key = hashlib.sha256(
            f"{source.code}|".encode() + json.dumps(batch, sort_keys=True).encode()
        ).hexdigest()
        content_type, body = _body(source, batch)
        queued += outbox.enqueue(conn, source.code, "crosswalk", key, content_type, body, batch, run_id)
    return len(changed), queued


def _body(source: SourceConfig, batch: list[dict[str, Any]]) -> tuple[str, bytes]:
    assert source.push is not None
    if source.push.format == "json":
        return "application/json", formats.json_body(source.code, batch)
    if source.push.format == "smev_xml":
        return "application/xml", formats.smev_crosswalk(batch)
    return "application/xml", formats.file_xml(source.code, batch)


def deliver(conn: Conn, source: SourceConfig, stats: PushStats) -> None:
    """Send every due message; commit after each so a crash never re-sends a delivered one twice."""
    assert source.push is not None
    sender = _Sender(source)
    for message in outbox.due(conn, source.code):
        try:
            sender.send(message)
        except ConnectorError as exc:
            status = outbox.mark_failed(
                conn, message, f"{type(exc).__name__}: {exc}", source.push.max_attempts
            )
            stats.failed += 1
            stats.dead += status == "dead"
        else:
            outbox.mark_delivered(
                conn, message, {e["source_record_id"]: entry_hash(e) for e in message.entries}
            )
            sent = {"target": source.code, "message_id": message.message_id,
                    "idempotency_key": message.idempotency_key, "entries": len(message.entries)}
            audit.append(conn, "push.delivered", "outbox", str(message.message_id), sent)  # ids, counts only
            stats.delivered += 1
        conn.commit()


class _Sender:
    """Sends one outbox message in the agency's format."""

    def __init__(self, source: SourceConfig) -> None:
        assert source.push is not None
        self.source, self.push = source, source.push
        self.conn = get_connection(source.connection_id)
        self.client = (
            client_for(self.conn, max_attempts=3)
            if self.push.format != "file_xml"
            else None
        )

    def send(self, message: outbox.OutboxMessage) -> None:
        if self.push.format == "file_xml":
            self._file(message)
        elif self.push.format == "smev_xml":
            self._smev(message)
        else:
            assert self.client is not None
            self.client.post(
                self.push.endpoint or "/",
                data=message.body,
                headers={"Content-Type": "application/json", "Idempotency-Key": message.idempotency_key},
            )

    def _smev(self, message: outbox.OutboxMessage) -> None:
        from lxml import etree  # type: ignore[import-untyped]

        from connectors.smev import SOAP_HEADERS
        from connectors.smev.helpers import body_element, send_request_request

        assert self.client is not None
        envelope = send_request_request(
            formats.smev_message_id(message.idempotency_key), etree.fromstring(message.body)
        )
        answer = self.client.post(self.push.endpoint or "/smev", data=envelope, headers=SOAP_HEADERS)
        try:
            body_element(answer.body)
        except ProtocolViolationError as exc:
            if "DuplicateMessageID" not in str(exc):  # the agency already has this very message
                raise

    def _file(self, message: outbox.OutboxMessage) -> None:
        folder = Path(self.conn.extra.get("outbox") or "")
        if not str(folder):
            raise ConnectorError(f"connection {self.conn.conn_id!r} has no extra.outbox folder")
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"HUB_registry_links_{message.idempotency_key[:20]}.xml"
        if not target.exists():  # the same key is the same file: delivered once
            part = target.with_name("." + target.name + ".part")
            part.write_bytes(message.body)
            part.replace(target)


def push(source: SourceConfig, url: str | None = None, airflow: dict[str, Any] | None = None) -> PushStats:
    """Queue the changes for one agency and deliver what is due."""
    if source.push is None:
        raise ConnectorError(f"source {source.code!r} has no push configuration")
    url = url or database_url()
    with exclusive_run(url, "push", source.code):  # one push per agency at a time
        return _push(source, url, airflow)


def _push(source: SourceConfig, url: str, airflow: dict[str, Any] | None) -> PushStats:
    stats = PushStats(source.code)
    with connect(url) as conn:
        stats.run_id = start_run(conn, "push", source.code, airflow)
        stats.entries_changed, stats.queued = enqueue(conn, source, stats.run_id)
        conn.commit()
        deliver(conn, source, stats)
        finish_run(
            conn,
            stats.run_id,
            "succeeded" if not stats.failed else "failed",
            stats.as_dict(),
            f"{stats.failed} message(s) not delivered" if stats.failed else None,
        )
    return stats
