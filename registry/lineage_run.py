"""What one run changed, table by table: counts and a sample of ids (no personal values).

Rows that carry the run's id are attributed exactly (staged records, quarantine, links opened, lineage,
events, outbox). Deletions and closed links carry no run id: they are the rows whose ``deleted_at`` /
``valid_to`` fall inside the run's window and, for deletions, belong to the run's source.
"""

from __future__ import annotations

from typing import Any

import psycopg2.extensions

Conn = psycopg2.extensions.connection


def _all(conn: Conn, sql: str, args: dict[str, Any]) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def _counted(rows: list[tuple[Any, ...]]) -> dict[str, int]:
    """``(group…, count)`` rows → {"a/b": count}."""
    return {"/".join(str(x) for x in row[:-1]): int(row[-1]) for row in rows}


def changes(conn: Conn, run: dict[str, Any], limit: int) -> dict[str, Any]:
    """Everything the run ``run`` (a row of ``run_view``) wrote, as counts plus up to ``limit`` ids each."""
    args = {
        "r": run["run_id"],
        "src": run["source"],
        "t0": run["started_at"],
        "t1": run["finished_at"],
        "n": limit,
    }
    window = "BETWEEN %(t0)s::timestamptz AND coalesce(%(t1)s::timestamptz, now())"
    return {
        "staged": _staged(conn, args, window),
        "quarantine": {
            "by_reason": _counted(
                _all(
                    conn,
                    """SELECT reason_code, count(*) FROM quarantine
                                                WHERE run_id = %(r)s GROUP BY 1 ORDER BY 1""",
                    args,
                )
            ),
            "sample": [
                {"quarantine_id": q, "reason_code": c, "pointer": p, "position": pos}
                for q, c, p, pos in _all(
                    conn,
                    """SELECT quarantine_id, reason_code, record_pointer, position - 'pointer' FROM quarantine
                         WHERE run_id = %(r)s ORDER BY quarantine_id LIMIT %(n)s""",
                    args,
                )
            ],
        },
        "reconciled_records": _counted(
            _all(
                conn,
                """SELECT record_kind, count(*) FROM staged_reconcile q JOIN staged_record USING (staged_id)
                   WHERE q.run_id = %(r)s GROUP BY 1 ORDER BY 1""",
                args,
            )
        ),
        "links": _links(conn, args, window, run["kind"]),
        "golden": _golden(conn, args),
        "events": {
            "by_event": _counted(
                _all(
                    conn,
                    """SELECT entity_kind, event, count(*) FROM entity_event
                                               WHERE run_id = %(r)s GROUP BY 1, 2 ORDER BY 1, 2""",
                    args,
                )
            ),
            "sample": [
                {"entity_id": e, "event": ev, "other_id": o, "cause": c}
                for e, ev, o, c in _all(
                    conn,
                    """SELECT entity_id, event, other_id, cause FROM entity_event WHERE run_id = %(r)s
                         ORDER BY event_id LIMIT %(n)s""",
                    args,
                )
            ],
        },
        "review_items": _counted(
            _all(
                conn,
                """SELECT status, count(*) FROM review_item
                                               WHERE created_run_id = %(r)s GROUP BY 1""",
                args,
            )
        ),
        "conflicts": _counted(
            _all(
                conn,
                """SELECT attribute, count(*) FROM survivorship_conflict
                                            WHERE run_id = %(r)s GROUP BY 1 ORDER BY 1""",
                args,
            )
        ),
        "outbox": _outbox(conn, args, window),
    }


def _staged(conn: Conn, args: dict[str, Any], window: str) -> dict[str, Any]:
    rows = _all(
        conn,
        """SELECT s.record_kind, o.staged_id IS NOT NULL, count(*) FROM staged_record s
                         LEFT JOIN staged_record o ON o.superseded_by = s.staged_id
                         WHERE s.run_id = %(r)s GROUP BY 1, 2 ORDER BY 1, 2""",
        args,
    )
    deleted = _all(
        conn,
        f"""SELECT record_kind, count(*) FROM staged_record
                             WHERE source_code = %(src)s AND deleted_at {window} GROUP BY 1 ORDER BY 1""",
        args,
    )
    sample = _all(
        conn,
        """SELECT staged_id, record_kind, source_record_id FROM staged_record
                           WHERE run_id = %(r)s ORDER BY staged_id LIMIT %(n)s""",
        args,
    )
    return {
        "new": {kind: n for kind, updated, n in rows if not updated},
        "updated": {kind: n for kind, updated, n in rows if updated},
        "deleted": _counted(deleted) if args["src"] else {},
        "sample": [{"staged_id": s, "kind": k, "source_record_id": i} for s, k, i in sample],
    }


def _links(conn: Conn, args: dict[str, Any], window: str, kind: str) -> dict[str, Any]:
    opened = _all(
        conn,
        """SELECT record_kind, decision, count(*) FROM entity_link WHERE run_id = %(r)s
                           GROUP BY 1, 2 ORDER BY 1, 2""",
        args,
    )
    closed = (
        _all(
            conn,
            f"""SELECT record_kind, count(*) FROM entity_link WHERE valid_to {window}
                       GROUP BY 1 ORDER BY 1""",
            args,
        )
        if kind in ("reconcile", "replay")
        else []
    )
    sample = _all(
        conn,
        """SELECT source_code, source_record_id, coalesce(person_id, family_id), decision
                           FROM entity_link WHERE run_id = %(r)s ORDER BY link_id LIMIT %(n)s""",
        args,
    )
    return {
        "opened": _counted(opened),
        "closed_during_run": _counted(closed),
        "sample": [
            {"source": s, "source_record_id": i, "registry_id": r, "decision": d} for s, i, r, d in sample
        ],
    }


def _golden(conn: Conn, args: dict[str, Any]) -> dict[str, Any]:
    by_attr = _all(
        conn,
        """SELECT attribute, count(*) FROM attribute_lineage WHERE run_id = %(r)s
                            GROUP BY 1 ORDER BY 1""",
        args,
    )
    entities = _all(
        conn,
        """SELECT DISTINCT entity_kind, entity_id FROM attribute_lineage WHERE run_id = %(r)s
                             ORDER BY entity_id LIMIT %(n)s""",
        args,
    )
    total = _all(conn, "SELECT count(DISTINCT entity_id) FROM attribute_lineage WHERE run_id = %(r)s", args)
    return {
        "attributes_chosen": _counted(by_attr),
        "entities": int(total[0][0]) if total else 0,
        "sample": [{"entity_kind": k, "entity_id": i} for k, i in entities],
    }


def _outbox(conn: Conn, args: dict[str, Any], window: str) -> dict[str, Any]:
    keys = ("message_id", "target", "message_kind", "status", "idempotency_key", "entries", "attempts")
    select = """SELECT message_id, target_source, message_kind, status, idempotency_key,
                       jsonb_array_length(entries), attempts FROM outbox"""
    created = _all(conn, f"{select} WHERE created_run_id = %(r)s ORDER BY message_id LIMIT %(n)s", args)
    delivered = (
        _all(
            conn,
            f"""{select} WHERE target_source = %(src)s AND delivered_at {window}
                               ORDER BY message_id LIMIT %(n)s""",
            args,
        )
        if args["src"]
        else []
    )
    return {
        "created": [dict(zip(keys, r, strict=True)) for r in created],
        "delivered_during_run": [dict(zip(keys, r, strict=True)) for r in delivered],
    }
