"""Forward lineage: where a source record went, what a run changed, and the raw bytes behind a sha256.

Counts and ids only in these views (record ids, registry ids, hashes, pointers) — never a personal value,
so a run report can be shared with an agency's IT person.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg2.extensions
import zstandard

from registry import history, staging
from registry.history import LineageError

Conn = psycopg2.extensions.connection


def _rows(conn: Conn, sql: str, args: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return [
            {
                k: (str(v) if k.endswith(("_at", "_from", "_to")) and v is not None else v)
                for k, v in zip(keys, row, strict=True)
            }
            for row in cur.fetchall()
        ]


def source_view(conn: Conn, system: str, source_record_id: str) -> dict[str, Any]:
    """A source record forward: staged versions, registry entity, the attributes it supplies, care rows."""
    agency = _rows(
        conn, "SELECT agency, name FROM source_system WHERE code = %s", (system,), ("agency", "name")
    )
    if not agency:
        raise LineageError(f"no source system {system!r}")
    key = (system, source_record_id)
    versions = _rows(
        conn,
        """SELECT s.staged_id, s.record_kind, s.staged_at, s.content_sha256, s.mapping_name,
                  s.mapping_version, s.raw_pointer, p.sha256, p.position, s.run_id, r.dag_id,
                  r.airflow_run_id, r.task_id, r.try_number, s.superseded_by, s.deleted_at,
                  q.run_id, s.warnings
           FROM staged_record s LEFT JOIN raw_payload p ON p.payload_id = s.payload_id
           LEFT JOIN staged_reconcile q ON q.staged_id = s.staged_id
           LEFT JOIN run r ON r.run_id = s.run_id
           WHERE s.source_code = %s AND s.source_record_id = %s ORDER BY s.record_kind, s.staged_id""",
        key,
        (
            "staged_id",
            "kind",
            "staged_at",
            "content_sha256",
            "mapping_name",
            "mapping_version",
            "pointer",
            "payload_sha256",
            "position",
            "run_id",
            "dag_id",
            "airflow_run_id",
            "task_id",
            "try_number",
            "superseded_by",
            "deleted_at",
            "reconciled_run_id",
            "warnings",
        ),
    )
    if not versions:
        raise LineageError(f"no staged record {system}:{source_record_id}")
    links = _rows(
        conn,
        """SELECT record_kind, coalesce(person_id, family_id), decision, score, model_version, run_id,
                  valid_from, valid_to
           FROM entity_link WHERE source_code = %s AND source_record_id = %s ORDER BY valid_from""",
        key,
        ("kind", "registry_id", "decision", "score", "model_version", "run_id", "valid_from", "valid_to"),
    )
    return {
        "kind": "source",
        "source": system,
        "source_record_id": source_record_id,
        **agency[0],
        "staged_versions": versions,
        "links": links,
        "registry_entities": _entities(conn, links),
        "supplies_attributes": _supplies(conn, [v["staged_id"] for v in versions]),
        "care_rows": _care_rows(conn, system, source_record_id, links),
        "pushed_back": _rows(
            conn,
            """SELECT s.message_id, s.delivered_at, s.entry_sha256, o.idempotency_key FROM push_state s
               JOIN outbox o ON o.message_id = s.message_id
               WHERE s.target_source = %s AND s.source_record_id = %s""",
            key,
            ("message_id", "delivered_at", "entry_sha256", "idempotency_key"),
        ),
    }


def _entities(conn: Conn, links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for link in (x for x in links if x["valid_to"] is None):
        who = history.resolve(conn, link["kind"], link["registry_id"])
        out.append({"kind": link["kind"], "registry_id": who["id"], "status": who["status"]})
    return out


def _supplies(conn: Conn, staged_ids: list[int]) -> list[dict[str, Any]]:
    return _rows(
        conn,
        """SELECT entity_kind, entity_id, attribute, rule, staged_id, run_id, valid_from
           FROM attribute_lineage WHERE staged_id = ANY(%s) AND valid_to IS NULL
           ORDER BY entity_id, attribute""",
        (staged_ids,),
        ("entity_kind", "entity_id", "attribute", "rule", "staged_id", "run_id", "valid_from"),
    )


def _care_rows(conn: Conn, system: str, sid: str, links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Registry rows made from this record (health rows by id only: their content is confidential)."""
    out: list[dict[str, Any]] = []
    queries = {
        "membership": "SELECT membership_id::text, family_id, person_id FROM membership",
        "accompaniment_case": "SELECT case_id, family_id, NULL FROM accompaniment_case",
        "service": "SELECT service_id::text, family_id, person_id FROM service",
        "health_status": "SELECT health_status_id::text, NULL, person_id FROM health_status",
        "consent": "SELECT consent_id::text, NULL, person_id FROM consent",
    }
    for table, select in queries.items():
        out += [
            {"table": table, **row}
            for row in _rows(
                conn,
                f"{select} WHERE source_code = %s AND source_record_id = %s",
                (system, sid),
                ("row_id", "family_id", "person_id"),
            )
        ]
    families = [x["registry_id"] for x in links if x["kind"] == "family" and x["valid_to"] is None]
    out += [
        {"table": "family_category", **row}
        for row in _rows(
            conn,
            "SELECT category, family_id FROM family_category WHERE source_code = %s AND family_id = ANY(%s)",
            (system, families),
            ("row_id", "family_id"),
        )
    ]
    return out


def run_view(conn: Conn, run_id: int, limit: int = 20) -> dict[str, Any]:
    """What a run changed: staged records, quarantine, links, golden attributes, events, outbox messages."""
    runs = _rows(
        conn,
        """SELECT run_id, kind, source_code, status, dag_id, airflow_run_id, task_id, try_number, started_at,
                  finished_at, stats, error FROM run WHERE run_id = %s""",
        (run_id,),
        (
            "run_id",
            "kind",
            "source",
            "status",
            "dag_id",
            "airflow_run_id",
            "task_id",
            "try_number",
            "started_at",
            "finished_at",
            "stats",
            "error",
        ),
    )
    if not runs:
        raise LineageError(f"no run {run_id}")
    from registry.lineage_run import changes

    return {"kind": "run", "run": runs[0], **changes(conn, runs[0], limit)}


def raw_payloads(conn: Conn, sha256: str, source: str | None = None) -> list[dict[str, Any]]:
    """Stored payloads (and quarantined bytes) with this sha256 of the uncompressed bytes."""
    found = _rows(
        conn,
        """SELECT 'raw_payload', payload_id, source_code, size_bytes, content_type, position FROM raw_payload
           WHERE sha256 = %(sha)s AND (%(src)s::text IS NULL OR source_code = %(src)s)
           UNION ALL
           SELECT 'quarantine', quarantine_id, source_code, NULL, NULL, position FROM quarantine
           WHERE raw_sha256 = %(sha)s AND (%(src)s::text IS NULL OR source_code = %(src)s)
           ORDER BY 1 DESC, 2""",  # 'raw_payload' first: the payload itself before a quarantined copy
        {"sha": sha256.lower(), "src": source},
        ("table", "id", "source", "size_bytes", "content_type", "position"),
    )
    if not found:
        raise LineageError(f"no raw payload with sha256 {sha256}")
    return found


def raw_bytes(conn: Conn, found: dict[str, Any]) -> Iterator[bytes]:
    """The uncompressed bytes of a payload (or quarantined record) from ``raw_payloads``."""
    if found["table"] == "raw_payload":
        yield from staging.payload_bytes(conn, int(found["id"]))
        return
    with conn.cursor() as cur:
        cur.execute(
            "SELECT raw_compression, raw_content FROM quarantine WHERE quarantine_id = %s", (found["id"],)
        )
        row = cur.fetchone()
    if row is not None:
        data = bytes(row[1])
        yield zstandard.ZstdDecompressor().decompress(data) if row[0] == "zstd" else data
