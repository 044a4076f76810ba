"""Care records waiting for their person or household: staged, not attached, kept pending for the next night.

A case, service, status or consent names its person or family by the source's own id; until a reconcile
has linked that id to a registry person (its Patient may have been quarantined, its family may come
tomorrow) the record waits in staging. Listed here with what it waits for — ids and kinds, no values.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions

Conn = psycopg2.extensions.connection
CARE_KINDS = ("case", "service", "disability", "consent")


@dataclass(frozen=True)
class WaitingRecord:
    """One care record waiting: which record, for which reference, since when."""

    source_code: str
    record_kind: str
    source_record_id: str
    waits_for: str
    staged_at: str
    reconciles_missed: int


def waiting(conn: Conn, source: str | None = None, limit: int = 100) -> tuple[int, list[WaitingRecord]]:
    """(how many wait in all, the oldest ``limit`` of them) — those at least one reconcile has passed."""
    with conn.cursor() as cur:
        cur.execute(
            """WITH w AS (
                 SELECT s.source_code, s.record_kind, s.source_record_id, s.staged_at,
                        CASE WHEN s.canonical ? 'person_ref'
                             THEN 'person ' || (s.canonical ->> 'person_ref')
                             ELSE 'household ' || coalesce(s.canonical ->> 'family_ref', '?')
                        END AS waits_for,
                        (SELECT count(*) FROM run r WHERE r.kind = 'reconcile' AND r.status = 'succeeded'
                           AND r.started_at > s.staged_at) AS missed
                 FROM staged_reconcile q JOIN staged_record s USING (staged_id)
                 WHERE s.superseded_by IS NULL AND q.run_id IS NULL AND s.deleted_at IS NULL
                   AND s.record_kind = ANY(%s::text[]) AND (%s::text IS NULL OR s.source_code = %s))
               SELECT *, count(*) OVER () FROM w WHERE missed > 0 ORDER BY staged_at, source_code LIMIT %s""",
            (list(CARE_KINDS), source, source, limit),
        )
        rows = cur.fetchall()
    total = int(rows[0][6]) if rows else 0
    return total, [WaitingRecord(str(a), str(b), str(c), str(e), str(d), int(f))
                   for a, b, c, d, e, f, _ in rows]
