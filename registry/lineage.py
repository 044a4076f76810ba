"""Record-level lineage: from a registry value back to the raw bytes, the run and the mapping that made it."""

from __future__ import annotations

from typing import Any

import psycopg2.extensions

Conn = psycopg2.extensions.connection

_VALUE_SQL = """
SELECT a.attribute, a.rule, a.value_sha256, a.valid_from, a.run_id,
       s.staged_id, s.source_code, s.source_record_id, s.record_kind, s.mapping_name, s.mapping_version,
       s.raw_pointer, s.staged_at, s.run_id,
       p.sha256, p.position, p.size_bytes,
       r.dag_id, r.airflow_run_id, r.task_id, r.try_number,
       l.decision, l.score, l.model_version, l.run_id
FROM attribute_lineage a
JOIN staged_record s ON s.staged_id = a.staged_id
LEFT JOIN raw_payload p ON p.payload_id = s.payload_id
LEFT JOIN run r ON r.run_id = s.run_id
LEFT JOIN entity_link l ON l.source_code = s.source_code AND l.source_record_id = s.source_record_id
     AND l.record_kind = 'person' AND l.valid_to IS NULL
WHERE a.entity_kind = %s AND a.entity_id = %s AND a.valid_to IS NULL
  AND (%s::text IS NULL OR a.attribute = %s)
ORDER BY a.attribute
"""


def trace_values(
    conn: Conn, entity_id: str, attribute: str | None = None, entity_kind: str = "person"
) -> list[dict[str, Any]]:
    """Each current attribute value (or one): source record, raw payload, position, run, mapping, match."""
    with conn.cursor() as cur:
        cur.execute(_VALUE_SQL, (entity_kind, entity_id, attribute, attribute))
        rows = cur.fetchall()
    out = []
    for row in rows:
        (
            attr,
            rule,
            value_sha,
            since,
            lineage_run,
            staged_id,
            source,
            sid,
            kind,
            mapping,
            version,
            pointer,
            staged_at,
            pull_run,
            payload_sha,
            position,
            size,
            dag_id,
            airflow_run,
            task,
            attempt,
            decision,
            score,
            model,
            link_run,
        ) = row
        out.append(
            {
                "attribute": attr,
                "value_sha256": value_sha,
                "survivorship_rule": rule,
                "since": str(since),
                "chosen_in_run": lineage_run,
                "source_record": {
                    "source": source,
                    "source_record_id": sid,
                    "kind": kind,
                    "staged_id": staged_id,
                    "staged_at": str(staged_at),
                },
                "raw_payload": {
                    "sha256": payload_sha,
                    "size_bytes": size,
                    "position": position,
                    "pointer_inside": pointer,
                },
                "mapping": {"name": mapping, "version": version},
                "pull_run": {
                    "run_id": pull_run,
                    "dag_id": dag_id,
                    "airflow_run_id": airflow_run,
                    "task_id": task,
                    "try_number": attempt,
                },
                "match": {"decision": decision, "score": score, "model_version": model, "run_id": link_run},
            }
        )
    return out
