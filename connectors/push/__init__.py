"""Push: each agency ends up holding what the registry says now — only what it may know, each field once.

Push is state, not batches. Per agency and source record, ``push_state`` keeps the entry the agency last
acknowledged. Each push (one per agency at a time: ``exclusive_run``):

1. **enqueue** — the entitlement now (``entitlement.current``: fields by legal basis, consent-checked) is
   compared with what the agency will hold once the messages already on their way arrive (acknowledged
   state, overlaid by messages attempted but not acknowledged and by dead letters). Messages never
   attempted are superseded; each difference becomes part of a new message with a fresh idempotency key.
   A record the agency may no longer see at all is retracted (every field null) where the protocol allows.
2. **deliver** — pending messages in order, each attempt recorded and committed *before* the send, so a
   crash re-sends the same message under the same key; the agency deduplicates it. Delivery stops at the
   first failure so that no newer state overtakes an older one; a fatal refusal dead-letters the message
   at once, a retriable one backs off; after ``push.max_attempts`` it is dead. Each delivery writes the
   disclosure register (field, basis, consent) and an audit row in the same transaction.

Fields outside the agency's ``push.fields`` never leave the hub (health details never reach the NGO).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from typing import Any

from connectors.config import PUSH_FIELDS, SourceConfig
from connectors.errors import ConnectorError
from connectors.push import formats
from connectors.push.entitlement import Conn, Entry, current, retraction
from connectors.push.sender import FatalDeliveryError, Sender
from registry import audit, disclosures, outbox
from registry.db import connect, database_url
from registry.runs import exclusive_run, finish_run, start_run

RETRACTING_FORMATS = ("json", "file_xml")
"""Protocols that can carry a record whose fields are all null (SMEV's crosswalk requires an id)."""


@dataclass
class PushStats:
    """Counts of one push (no personal data)."""

    source: str
    run_id: int = 0
    entries_changed: int = 0
    queued: int = 0
    superseded: int = 0
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    disclosed_fields: int = 0
    retracted_fields: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def enqueue(conn: Conn, source: SourceConfig, run_id: int | None, stats: PushStats | None = None) -> int:
    """Queue the difference between entitlement now and what the agency will hold; return messages queued."""
    assert source.push is not None
    stats = stats or PushStats(source.code)
    stats.superseded += outbox.supersede_unattempted(conn, source.code)
    eventual = {**outbox.delivered_hashes(conn, source.code), **outbox.outstanding_hashes(conn, source.code)}
    entries = current(conn, source)
    seen = {e.source_record_id for e in entries}
    if source.push.format in RETRACTING_FORMATS:
        fields = [f for f in PUSH_FIELDS if f in source.push.fields]
        entries += [retraction(sid, fields) for sid in sorted(set(eventual) - seen)]
    changed = [e for e in entries if eventual.get(e.source_record_id) != e.sha256]
    stats.entries_changed = len(changed)
    queued, size = 0, source.push.batch_size
    for start in range(0, len(changed), size):
        batch = changed[start : start + size]
        content_type, body = _body(source, [e.visible for e in batch])
        key = secrets.token_hex(32)  # unique per message; a resend of this message reuses it
        outbox.enqueue(conn, source.code, "crosswalk", key, content_type, body, [_stored(e) for e in batch],
                       run_id)
        queued += 1
    stats.queued += queued
    return queued


def _stored(entry: Entry) -> dict[str, Any]:
    """An outbox entry: what the agency sees, plus (underscored, never sent) its hash, person and bases."""
    return {**entry.visible, "_sha256": entry.sha256, "_person": entry.person_id,
            "_bases": {f: list(b) for f, b in entry.bases.items()}}


def _body(source: SourceConfig, batch: list[dict[str, Any]]) -> tuple[str, bytes]:
    assert source.push is not None
    if source.push.format == "json":
        return "application/json", formats.json_body(source.code, batch)
    if source.push.format == "smev_xml":
        return "application/xml", formats.smev_crosswalk(batch)
    return "application/xml", formats.file_xml(source.code, batch)


def deliver(conn: Conn, source: SourceConfig, stats: PushStats) -> None:
    """Send the pending messages in order; commit around each send (see the module docstring)."""
    assert source.push is not None
    sender = Sender(source)
    for message in outbox.pending_in_order(conn, source.code):
        if not message.due:
            break  # an older message is backing off: nothing newer may overtake it
        outbox.record_attempt(conn, message)
        conn.commit()
        try:
            sender.send(message)
        except ConnectorError as exc:
            fatal = isinstance(exc, FatalDeliveryError)
            error = f"{type(exc).__name__}: {exc}"
            status = outbox.mark_failed(conn, message, error, source.push.max_attempts, fatal=fatal)
            conn.commit()
            stats.failed += 1
            stats.dead += status == "dead"
            if status != "dead":
                break
            continue
        _delivered(conn, source, message, stats)
        conn.commit()


def _delivered(conn: Conn, source: SourceConfig, message: outbox.OutboxMessage, stats: PushStats) -> None:
    sids = [e["source_record_id"] for e in message.entries]
    previous = outbox.acknowledged_entries(conn, source.code, sids)
    outbox.mark_delivered(conn, message, {e["source_record_id"]: e["_sha256"] for e in message.entries})
    rows = _disclosures(source.code, message, previous)
    disclosures.record(conn, rows)
    stats.delivered += 1
    stats.disclosed_fields += sum(r.basis != "retraction" for r in rows)
    stats.retracted_fields += sum(r.basis == "retraction" for r in rows)
    sent = {"target": source.code, "message_id": message.message_id,
            "idempotency_key": message.idempotency_key, "entries": len(message.entries),
            "fields_disclosed": len(rows)}
    audit.append(conn, "push.delivered", "outbox", str(message.message_id), sent)  # ids, counts only


def _disclosures(target: str, message: outbox.OutboxMessage,
                 previous: dict[str, dict[str, Any]]) -> list[disclosures.Disclosure]:
    rows = []
    for entry in message.entries:
        sid, before = entry["source_record_id"], previous.get(entry["source_record_id"], {})
        person = entry.get("_person") or before.get("_person")
        for name in PUSH_FIELDS:
            if name not in entry:
                continue
            if entry[name] is not None:
                basis, consent = entry["_bases"].get(name, ["law_442fz", None])
                rows.append(disclosures.Disclosure(target, person, sid, name, basis, consent,
                                                   message.message_id))
            elif before.get(name) is not None:
                rows.append(disclosures.Disclosure(target, person, sid, name, "retraction", None,
                                                   message.message_id))
    return rows


def push(source: SourceConfig, url: str | None = None, airflow: dict[str, Any] | None = None) -> PushStats:
    """Queue the changes for one agency and deliver what is due (one push per agency at a time)."""
    if source.push is None:
        raise ConnectorError(f"source {source.code!r} has no push configuration")
    url = url or database_url()
    with exclusive_run(url, "push", source.code):
        return _push(source, url, airflow)


def retry_dead(source: SourceConfig, url: str | None = None,
               airflow: dict[str, Any] | None = None) -> tuple[int, PushStats]:
    """Release the agency's dead letters and push again: (released, stats)."""
    if source.push is None:
        raise ConnectorError(f"source {source.code!r} has no push configuration")
    url = url or database_url()
    with exclusive_run(url, "push", source.code):
        with connect(url) as conn:
            released = outbox.release_dead(conn, source.code)
        return released, _push(source, url, airflow)


def _push(source: SourceConfig, url: str, airflow: dict[str, Any] | None) -> PushStats:
    stats = PushStats(source.code)
    with connect(url) as conn:
        stats.run_id = start_run(conn, "push", source.code, airflow)
        enqueue(conn, source, stats.run_id, stats)
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
