"""Record-level lineage: from a registry value back to the raw bytes, the run and the mapping that made it.

A golden attribute's trace: the ``attribute_lineage`` row valid at the instant asked (survivorship rule,
the reconcile run that chose it), the staged record version it came from (system, record id, mapping name
and version, the run that pulled it), the raw payload (sha256, position — file, URL and page or MessageID —
and the XPath or JSON pointer inside it), and the match decision that attached the record to the person.
The value itself is the staged record's canonical value of that attribute, re-hashed against the
``value_sha256`` survivorship stored — so a trace proves itself.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import psycopg2.extensions

from registry import history
from registry.history import NOW, valid_at

Conn = psycopg2.extensions.connection

_VALUE_SQL = f"""
SELECT a.attribute, a.rule, a.value_sha256, a.valid_from, a.valid_to,
       cr.run_id, cr.kind, cr.dag_id, cr.airflow_run_id, cr.task_id, cr.try_number,
       s.staged_id, s.source_code, ss.agency, s.source_record_id, s.record_kind, s.mapping_name,
       s.mapping_version, s.raw_pointer, s.staged_at, s.canonical, s.warnings,
       p.payload_id, p.sha256, p.position, p.size_bytes, p.content_type,
       pr.run_id, pr.dag_id, pr.airflow_run_id, pr.task_id, pr.try_number,
       l.link_id, l.decision, l.score, l.explanation, l.model_version, l.run_id, l.valid_from
FROM attribute_lineage a
JOIN run cr ON cr.run_id = a.run_id
JOIN staged_record s ON s.staged_id = a.staged_id
JOIN source_system ss ON ss.code = s.source_code
LEFT JOIN raw_payload p ON p.payload_id = s.payload_id
LEFT JOIN run pr ON pr.run_id = s.run_id
LEFT JOIN LATERAL (
    SELECT * FROM entity_link l
    WHERE l.source_code = s.source_code AND l.source_record_id = s.source_record_id
      AND l.record_kind = 'person' AND {valid_at("l")}
    ORDER BY l.valid_from DESC LIMIT 1) l ON true
WHERE a.entity_kind = %(kind)s AND a.entity_id = %(id)s AND {valid_at("a")}
  AND (%(attr)s::text IS NULL OR a.attribute = %(attr)s)
ORDER BY a.attribute, a.lineage_id DESC
"""


def value_sha256(value: Any) -> str:
    """The hash survivorship stores for a value (``matching.golden.refresh_golden`` writes the same)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def attribute_value(canonical: dict[str, Any], attribute: str) -> Any:
    """The value of a golden attribute in one canonical person (the candidate survivorship saw)."""
    from matching.golden import person_values  # the one definition of the attributes; heavy, so late

    return person_values(canonical).get(attribute)


def trace_values(
    conn: Conn,
    entity_id: str,
    attribute: str | None = None,
    entity_kind: str = "person",
    as_of: str | None = None,
) -> list[dict[str, Any]]:
    """Each attribute value valid at ``as_of`` (default now), or one attribute, with its full trace."""
    at = as_of or NOW
    with conn.cursor() as cur:
        cur.execute(_VALUE_SQL, {"kind": entity_kind, "id": entity_id, "attr": attribute, "t": at})
        rows = cur.fetchall()
    out, seen = [], set()
    for row in rows:
        if row[0] in seen:  # two rows valid at once only inside one transaction; the latest wins
            continue
        seen.add(row[0])
        out.append(_trace(row))
    return out


def _trace(row: tuple[Any, ...]) -> dict[str, Any]:
    (
        attr,
        rule,
        value_sha,
        since,
        until,
        c_run,
        c_kind,
        c_dag,
        c_arun,
        c_task,
        c_try,
        staged_id,
        source,
        agency,
        sid,
        kind,
        mapping,
        version,
        pointer,
        staged_at,
        canonical,
        warnings,
        payload_id,
        payload_sha,
        position,
        size,
        content_type,
        pull_run,
        dag_id,
        airflow_run,
        task,
        attempt,
        link_id,
        decision,
        score,
        explanation,
        model,
        link_run,
        link_since,
    ) = row
    value = attribute_value(canonical, attr)
    return {
        "attribute": attr,
        "value": value,
        "value_sha256": value_sha,
        "value_matches_sha256": value_sha256(value) == value_sha,
        "survivorship_rule": rule,
        "since": str(since),
        "until": str(until) if until is not None else None,
        "chosen_in_run": c_run,
        "chosen_by_run": _run(c_run, c_kind, c_dag, c_arun, c_task, c_try),
        "source_record": {
            "source": source,
            "agency": agency,
            "source_record_id": sid,
            "kind": kind,
            "staged_id": staged_id,
            "staged_at": str(staged_at),
            "warnings": list(warnings or []),  # values the mapping dropped or kept raw (PII-free)
        },
        "raw_payload": {
            "payload_id": payload_id,
            "sha256": payload_sha,
            "size_bytes": size,
            "content_type": content_type,
            "position": position,
            "pointer_inside": pointer,
        },
        "mapping": {"name": mapping, "version": version},
        "pull_run": _run(pull_run, "pull", dag_id, airflow_run, task, attempt),
        "match": {
            "link_id": link_id,
            "decision": decision,
            "score": score,
            "explanation": explanation,
            "model_version": model,
            "run_id": link_run,
            "since": str(link_since) if link_since is not None else None,
        },
    }


def _run(run_id: Any, kind: Any, dag: Any, airflow_run: Any, task: Any, attempt: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "kind": kind,
        "dag_id": dag,
        "airflow_run_id": airflow_run,
        "task_id": task,
        "try_number": attempt,
    }


def candidates(conn: Conn, registry_id: str, attribute: str) -> list[dict[str, Any]]:
    """Every value survivorship saw for ``attribute``: one per source record now linked to the person."""
    from matching.survivorship import load_policy

    spec = load_policy()["person"].get(attribute)
    if spec is None:
        known = ", ".join(sorted(load_policy()["person"]))
        raise history.LineageError(f"unknown attribute {attribute!r}; known: {known}")
    with conn.cursor() as cur:
        cur.execute(
            """SELECT m.source_code, m.source_record_id, m.staged_id, s.staged_at::text, s.canonical,
                      l.decision, l.score
               FROM match_person m JOIN staged_record s ON s.staged_id = m.staged_id
               LEFT JOIN entity_link l ON l.source_code = m.source_code
                    AND l.source_record_id = m.source_record_id AND l.record_kind = 'person'
                    AND l.valid_to IS NULL
               WHERE m.registry_id = %s ORDER BY m.source_code, m.source_record_id""",
            (registry_id,),
        )
        rows = cur.fetchall()
    trust = list(spec["trust"])
    return [
        {
            "source": src,
            "source_record_id": sid,
            "staged_id": staged,
            "staged_at": at,
            "value": attribute_value(canonical, attribute),
            "trust_rank": trust.index(src) if src in trust else None,
            "match_decision": decision,
            "match_score": score,
        }
        for src, sid, staged, at, canonical, decision, score in rows
    ]


def recompute(attribute: str, cands: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Survivorship run again over ``cands``: which record it picks (an auditor's cross-check)."""
    from matching.survivorship import Candidate, choose, load_policy

    spec = load_policy()["person"][attribute]
    choice = choose(
        attribute,
        [Candidate(c["value"], c["source"], c["staged_id"], c["staged_at"]) for c in cands],
        spec,
    )
    if choice is None:
        return None
    return {
        "rule": choice.rule,
        "staged_id": choice.staged_id,
        "value_sha256": value_sha256(choice.value),
        "policy": {"rule": spec["rule"], "trust": list(spec["trust"])},
    }


def conflict(
    conn: Conn, entity_id: str, attribute: str, entity_kind: str = "person"
) -> dict[str, Any] | None:
    """The survivorship conflict recorded for the attribute (what was chosen, what else the sources said)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT chosen, candidates, run_id FROM survivorship_conflict
               WHERE entity_kind = %s AND entity_id = %s AND attribute = %s""",
            (entity_kind, entity_id, attribute),
        )
        row = cur.fetchone()
    if row is None:
        return None
    return {"chosen": row[0], "candidates": row[1], "run_id": row[2]}
