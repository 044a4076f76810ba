"""What an auditor asks about a person, a value or a family — now or as of an instant.

* ``person_view``: golden values with their full traces, the linked source records with the match
  decisions, and the history (creations, merges, unmerges, links, attribute changes with time and cause).
* ``value_view``: one attribute's trace, every candidate survivorship saw, its recomputed choice and the
  conflict, each trace checked against the raw bytes.
* ``family_view``: see ``registry.lineage_family``.

A tombstoned id answers "replaced by X" and the view follows it to X. Audit-log entries are the caller's
(the CLI appends one per query).
"""

from __future__ import annotations

from typing import Any

import psycopg2.extensions

from registry import history, lineage, raw_pointer
from registry.history import NOW, LineageError

Conn = psycopg2.extensions.connection


def person_view(
    conn: Conn, registry_id: str, as_of: str | None = None, verify_raw: bool = False
) -> dict[str, Any]:
    """The person (following tombstones) at ``as_of``: golden values with traces, links, history."""
    at = history.parse_as_of(as_of)
    who = history.resolve(conn, "person", registry_id, at)
    view: dict[str, Any] = {"kind": "person", "as_of": None if at == NOW else at, **_identity(who)}
    if not who["existed"]:
        return {**view, "golden": {}, "values": [], "source_records": [], "history": []}
    pid = who["id"]
    traces = lineage.trace_values(conn, pid, as_of=at)
    if verify_raw:
        check_traces(conn, traces)
    view["golden"] = {t["attribute"]: t["value"] for t in traces}
    if at == NOW:
        view["golden_matches_registry"] = _matches_registry(conn, pid, view["golden"])
    view["values"] = traces
    view["source_records"] = history.links(conn, "person", pid, at)
    view["families"] = _families(conn, pid) if at == NOW else []
    view["history"] = history.history(conn, "person", pid, at)
    return view


def _identity(who: dict[str, Any]) -> dict[str, Any]:
    note = None
    if who["replaced"]:
        note = f"{who['requested']} was replaced by {who['id']}"
    elif not who["existed"]:
        note = f"{who['requested']} did not exist yet"
    return {
        "requested_id": who["requested"],
        "registry_id": who["id"],
        "status": who["status"],
        "created_at": who["created_at"],
        "replaced": who["replaced"],
        "note": note,
        "existed": who["existed"],
    }


def _matches_registry(conn: Conn, pid: str, golden: dict[str, Any]) -> bool:
    """Whether the values rebuilt from lineage equal ``registry_person.golden`` (they must)."""
    with conn.cursor() as cur:
        cur.execute("SELECT golden FROM registry_person WHERE registry_id = %s", (pid,))
        row = cur.fetchone()
    stored = {k: v for k, v in (row[0] if row else {}).items() if k != "sources"}
    return {k: lineage.value_sha256(v) for k, v in stored.items()} == {
        k: lineage.value_sha256(v) for k, v in golden.items()
    }


def _families(conn: Conn, pid: str) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(
            """SELECT family_id, role, period_from::text, period_to::text, source_code, source_record_id
               FROM membership WHERE person_id = %s ORDER BY period_to NULLS FIRST, family_id""",
            (pid,),
        )
        keys = ("family_id", "role", "period_from", "period_to", "source", "source_record_id")
        return [dict(zip(keys, r, strict=True)) for r in cur.fetchall()]


def check_traces(conn: Conn, traces: list[dict[str, Any]]) -> None:
    """Add ``raw_check`` to each trace: payload bytes re-hashed, pointer resolved inside them."""
    cache = raw_pointer.PayloadCache(conn)
    for trace in traces:
        payload = trace["raw_payload"]
        if payload["payload_id"] is None:
            trace["raw_check"] = {"sha256_ok": None, "pointer_resolved": None}
            continue
        trace["raw_check"] = raw_pointer.verify(
            cache,
            payload["payload_id"],
            payload["sha256"],
            payload["content_type"],
            payload["pointer_inside"],
            payload["size_bytes"],
        )


def value_view(conn: Conn, registry_id: str, attribute: str) -> dict[str, Any]:
    """One attribute now: its trace (checked against the raw bytes), all candidates, the conflict."""
    who = history.resolve(conn, "person", registry_id)
    pid = who["id"]
    cands = lineage.candidates(conn, pid, attribute)  # raises for an unknown attribute
    traces = lineage.trace_values(conn, pid, attribute)
    check_traces(conn, traces)
    trace = traces[0] if traces else None
    chosen = trace["source_record"]["staged_id"] if trace else None
    for cand in cands:
        cand["chosen"] = cand["staged_id"] == chosen
    recomputed = lineage.recompute(attribute, cands)
    if recomputed is not None and trace is not None:
        recomputed["agrees"] = recomputed["value_sha256"] == trace["value_sha256"]
    return {
        "kind": "value",
        **_identity(who),
        "attribute": attribute,
        "value": trace["value"] if trace else None,
        "trace": trace,
        "candidates": cands,
        "recomputed": recomputed,
        "conflict": lineage.conflict(conn, pid, attribute),
    }


def family_of_person(conn: Conn, person_id: str) -> str:
    """The person's current family (an open membership; the latest one when several)."""
    pid = history.resolve(conn, "person", person_id)["id"]
    with conn.cursor() as cur:
        cur.execute(
            """SELECT family_id FROM membership WHERE person_id = %s
               ORDER BY period_to IS NOT NULL, period_from DESC NULLS LAST, family_id LIMIT 1""",
            (pid,),
        )
        row = cur.fetchone()
    if row is None:
        raise LineageError(f"person {pid} belongs to no family")
    return str(row[0])
