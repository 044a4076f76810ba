"""Counts for people: per-night pull statistics per source and the registry's totals (no personal data)."""

from __future__ import annotations

from typing import Any

import psycopg2.extensions

Conn = psycopg2.extensions.connection


def pulls_by_night(conn: Conn, nights: list[tuple[str, str]]) -> dict[str, dict[str, dict[str, Any]]]:
    """night label → source → summed counts of the successful pull runs started in [from, to)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    with conn.cursor() as cur:
        for label, (start, end) in zip([n[0] for n in nights], _windows(nights), strict=True):
            cur.execute(
                """SELECT source_code, count(*), sum((stats->>'records')::int), sum((stats->>'new')::int),
                          sum((stats->>'updated')::int), sum((stats->>'deleted')::int),
                          sum((stats->>'quarantined')::int), sum((stats->>'retries')::int)
                   FROM run WHERE kind = 'pull' AND started_at >= %s::timestamptz
                     AND (%s::timestamptz IS NULL OR started_at < %s::timestamptz) AND stats ? 'records'
                   GROUP BY source_code ORDER BY source_code""",
                (start, end, end),
            )
            keys = ("runs", "records", "new", "updated", "deleted", "quarantined", "retries")
            out[label] = {
                str(r[0]): dict(zip(keys, (int(x or 0) for x in r[1:]), strict=True)) for r in cur.fetchall()
            }
    return out


def _windows(nights: list[tuple[str, str]]) -> list[tuple[str, str | None]]:
    starts = [n[1] for n in nights]
    return [(s, starts[i + 1] if i + 1 < len(starts) else None) for i, s in enumerate(starts)]


def registry_totals(conn: Conn) -> dict[str, int]:
    """How big the registry is and what it did."""
    queries = {
        "persons": "SELECT count(*) FROM registry_person WHERE status = 'active'",
        "persons_merged_away": "SELECT count(*) FROM registry_person WHERE status = 'replaced'",
        "families": "SELECT count(*) FROM registry_family WHERE status = 'active'",
        "source_records_linked": "SELECT count(*) FROM entity_link "
        "WHERE record_kind = 'person' AND valid_to IS NULL",
        "rule_links": "SELECT count(*) FROM entity_link WHERE decision = 'rule' AND valid_to IS NULL",
        "auto_links": "SELECT count(*) FROM entity_link WHERE decision = 'auto' AND valid_to IS NULL",
        "review_items_open": "SELECT count(*) FROM review_item WHERE status = 'open'",
        "accompaniment_cases": "SELECT count(*) FROM accompaniment_case",
        "services": "SELECT count(*) FROM service",
        "quarantined": "SELECT count(*) FROM quarantine",
        "pushes_delivered": "SELECT count(*) FROM outbox WHERE status = 'delivered'",
        "pushes_pending": "SELECT count(*) FROM outbox WHERE status = 'pending'",
        "pushes_dead": "SELECT count(*) FROM outbox WHERE status = 'dead'",
    }
    out = {}
    with conn.cursor() as cur:
        for name, sql in queries.items():
            cur.execute(sql)
            row = cur.fetchone()
            out[name] = int(row[0]) if row else 0
    return out


def well_traced_person(conn: Conn) -> str | None:
    """A registry person known to the most agencies (a good example for a lineage trace)."""
    with conn.cursor() as cur:
        cur.execute("""SELECT person_id FROM entity_link WHERE record_kind = 'person' AND valid_to IS NULL
                       GROUP BY person_id ORDER BY count(DISTINCT source_code) DESC, count(*) DESC, person_id
                       LIMIT 1""")
        row = cur.fetchone()
    return str(row[0]) if row else None


def roles_by_dag(conn: Conn) -> dict[str, list[str]]:
    """Which database roles the runs of each DAG used (least privilege: ``hub_app`` but for maintenance)."""
    with conn.cursor() as cur:
        cur.execute("""SELECT dag_id, array_agg(DISTINCT coalesce(db_role, '?'))
                       FROM run WHERE dag_id IS NOT NULL GROUP BY dag_id ORDER BY dag_id""")
        return {str(d): sorted(r) for d, r in cur.fetchall()}


def runs_not_succeeded(conn: Conn, limit: int = 20) -> list[dict[str, Any]]:
    """The latest hub runs that failed or were abandoned (the demo's summary says which)."""
    with conn.cursor() as cur:
        cur.execute("""SELECT run_id, kind, source_code, status, error FROM run
                       WHERE status IN ('failed', 'abandoned') ORDER BY run_id DESC LIMIT %s""", (limit,))
        return [{"run_id": r, "kind": k, "source": s, "status": st, "error": (e or "")[:200]}
                for r, k, s, st, e in cur.fetchall()]


def source_queues(conn: Conn) -> dict[str, dict[str, int]]:
    """source → what waits now: staged records waiting for a dependency, outbox messages by status."""
    out: dict[str, dict[str, int]] = {}
    with conn.cursor() as cur:
        cur.execute("SELECT code FROM source_system ORDER BY code")
        for (code,) in cur.fetchall():
            out[str(code)] = {"waiting": 0, "pending": 0, "delivered": 0, "dead": 0}
        cur.execute("""SELECT source_code, count(*)
                       FROM staged_reconcile q JOIN staged_record USING (staged_id)
                       WHERE superseded_by IS NULL AND q.run_id IS NULL AND deleted_at IS NULL
                       GROUP BY 1""")
        for code, n in cur.fetchall():
            out.setdefault(str(code), {})["waiting"] = int(n)
        cur.execute("""SELECT target_source, status, count(*) FROM outbox
                       WHERE status IN ('pending', 'delivered', 'dead') GROUP BY 1, 2""")
        for code, status, n in cur.fetchall():
            out.setdefault(str(code), {})[str(status)] = int(n)
    return out


def sources_of_agency(conn: Conn, agency: str) -> set[str]:
    with conn.cursor() as cur:
        cur.execute("SELECT code FROM source_system WHERE agency = %s", (agency,))
        return {str(r[0]) for r in cur.fetchall()}
