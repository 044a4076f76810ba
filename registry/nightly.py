"""The night's bookkeeping: which sources delivered since the last reconcile."""

from __future__ import annotations

from typing import Any

import psycopg2.extensions

from registry.runs import pulls_since


def arrivals(conn: psycopg2.extensions.connection, sources: list[str]) -> dict[str, Any]:
    """Sources with a successful pull since the last reconcile (``arrived``) and the others (``late``)."""
    with conn.cursor() as cur:
        cur.execute("SELECT coalesce(max(started_at), '-infinity'::timestamptz)::text FROM run "
                    "WHERE kind = 'reconcile' AND status = 'succeeded'")
        row = cur.fetchone()
    since = str(row[0]) if row else "-infinity"
    pulls = pulls_since(conn, since)
    arrived = sorted(s for s in sources if pulls.get(s) == "succeeded")
    return {"since": since, "arrived": arrived, "late": sorted(set(sources) - set(arrived))}
