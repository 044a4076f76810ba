"""The registry over time: ``--as-of`` instants, tombstones followed, and the history of a person or family.

Nothing in the registry is rewritten without a trace: ``attribute_lineage`` and ``entity_link`` close their
rows with ``valid_to``, ``staged_record`` keeps superseded versions, ``entity_event`` records creations,
merges and unmerges. So "the registry as it was at T" is the rows valid at T — a row is valid at T when
``valid_from <= T`` and ``valid_to`` is empty or later than T. "Now" is the instant ``infinity``, which makes
the current view the same query as any other instant.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg2.extensions

from registry.errors import RegistryError

Conn = psycopg2.extensions.connection
NOW = "infinity"
_TABLES = {"person": "registry_person", "family": "registry_family"}


class LineageError(RegistryError):
    """A lineage question that cannot be answered (unknown id, bad date); the message names no value."""


def parse_as_of(text: str | None) -> str:
    """The instant of ``--as-of``: an ISO timestamp as given, a bare date as the end of that day, else now."""
    if not text:
        return NOW
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        try:
            dt.datetime.fromisoformat(text)
        except ValueError:
            raise LineageError("--as-of: expected YYYY-MM-DD or an ISO timestamp") from None
        return text
    return f"{day.isoformat()}T23:59:59.999999"


def valid_at(alias: str, param: str = "t") -> str:
    """SQL: the row ``alias`` (with valid_from/valid_to) was valid at the instant ``%(param)s``."""
    return (
        f"({alias}.valid_from <= %({param})s::timestamptz "
        f"AND ({alias}.valid_to IS NULL OR {alias}.valid_to > %({param})s::timestamptz))"
    )


def staged_at(alias: str, param: str = "t") -> str:
    """SQL: the staged record version ``alias`` was the current, not deleted one at ``%(param)s``."""
    t = f"%({param})s::timestamptz"
    return (
        f"({alias}.staged_at <= {t} AND ({alias}.deleted_at IS NULL OR {alias}.deleted_at > {t}) "
        f"AND ({alias}.superseded_by IS NULL OR (SELECT nx.staged_at FROM staged_record nx "
        f"WHERE nx.staged_id = {alias}.superseded_by) > {t}))"
    )


def resolve(conn: Conn, kind: str, entity_id: str, at: str = NOW) -> dict[str, Any]:
    """Follow tombstones from ``entity_id`` at instant ``at``: the id that stands for it and the chain walked.

    Raises ``LineageError`` for an unknown id. ``existed`` is False when the id was created after ``at``.
    """
    table = _TABLES[kind]
    chain: list[dict[str, Any]] = []
    current = entity_id
    for _ in range(100):  # a chain is short; the bound only guards against a cycle
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT status, replaced_by, created_at, created_at <= %s::timestamptz FROM {table} "
                "WHERE registry_id = %s",
                (at, current),
            )
            row = cur.fetchone()
        if row is None:
            raise LineageError(f"no {kind} {current} in the registry")
        status, replaced_by, created, existed = row
        successor = replaced_by if at == NOW else _merged_into(conn, kind, current, at)
        if successor is None:
            return {
                "requested": entity_id,
                "id": current,
                "status": status if at == NOW else "active",
                "created_at": str(created),
                "existed": bool(existed),
                "replaced": chain,
            }
        chain.append({"id": current, "replaced_by": successor})
        current = successor
    raise LineageError(f"the tombstones of {kind} {entity_id} form a cycle")


def _merged_into(conn: Conn, kind: str, entity_id: str, at: str) -> str | None:
    with conn.cursor() as cur:
        cur.execute(
            """SELECT other_id FROM entity_event WHERE entity_kind = %s AND entity_id = %s
               AND event = 'merged_into' AND at <= %s::timestamptz ORDER BY at DESC, event_id DESC LIMIT 1""",
            (kind, entity_id, at),
        )
        row = cur.fetchone()
    return str(row[0]) if row and row[0] else None


def absorbed_ids(conn: Conn, kind: str, entity_id: str, at: str = NOW) -> list[str]:
    """Ids merged into ``entity_id`` up to ``at`` (their history is part of its history)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT DISTINCT entity_id FROM entity_event WHERE entity_kind = %s AND event = 'merged_into'
               AND other_id = %s AND at <= %s::timestamptz ORDER BY entity_id""",
            (kind, entity_id, at),
        )
        return [str(r[0]) for r in cur.fetchall()]


def links(
    conn: Conn, kind: str, entity_id: str, at: str = NOW, current_only: bool = True
) -> list[dict[str, Any]]:
    """Source records linked to the entity (valid at ``at``, or every link it ever had) with the decision."""
    column = "person_id" if kind == "person" else "family_id"
    where = valid_at("l") if current_only else "l.valid_from <= %(t)s::timestamptz"
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT l.link_id, l.source_code, ss.agency, l.source_record_id, l.decision, l.score,
                       l.explanation, l.model_version, l.run_id, r.dag_id, r.airflow_run_id, l.valid_from,
                       l.valid_to, (l.valid_to IS NOT NULL AND l.valid_to <= %(t)s::timestamptz)
                FROM entity_link l JOIN source_system ss ON ss.code = l.source_code
                LEFT JOIN run r ON r.run_id = l.run_id
                WHERE l.{column} = %(id)s AND l.record_kind = %(kind)s AND {where}
                ORDER BY l.source_code, l.source_record_id, l.valid_from""",
            {"id": entity_id, "kind": kind, "t": at},
        )
        rows = cur.fetchall()
    keys = (
        "link_id",
        "source",
        "agency",
        "source_record_id",
        "decision",
        "score",
        "explanation",
        "model_version",
        "run_id",
        "dag_id",
        "airflow_run_id",
        "valid_from",
        "valid_to",
        "closed",
    )
    return [_stringify(dict(zip(keys, row, strict=True)), ("valid_from", "valid_to")) for row in rows]


def history(conn: Conn, kind: str, entity_id: str, at: str = NOW) -> list[dict[str, Any]]:
    """Events, link changes and (persons) attribute changes of the entity and the ids it absorbed, by time."""
    ids = [entity_id, *absorbed_ids(conn, kind, entity_id, at)]
    items = _events(conn, kind, ids, at) + _link_changes(conn, kind, ids, at)
    if kind == "person":
        items += attribute_changes(conn, ids, at)
    # at one instant: entity events (created, merged …) first, then links, then attribute choices
    return sorted(items, key=lambda i: (i["at"], "event_id" not in i, i.get("event_id") or 0, i["what"]))


def _events(conn: Conn, kind: str, ids: list[str], at: str) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute(
            """SELECT e.event_id, e.at, e.entity_id, e.event, e.other_id, e.source_code, e.source_record_id,
                      e.cause, e.run_id, r.kind, r.dag_id, r.airflow_run_id
               FROM entity_event e LEFT JOIN run r ON r.run_id = e.run_id
               WHERE e.entity_kind = %s AND e.entity_id = ANY(%s) AND e.at <= %s::timestamptz""",
            (kind, ids, at),
        )
        rows = cur.fetchall()
    return [
        {
            "at": str(at_),
            "what": event,
            "event_id": eid,
            "entity_id": ent,
            "other_id": other,
            "source": src,
            "source_record_id": sid,
            "cause": cause,
            "run": {"run_id": run, "kind": rkind, "dag_id": dag, "airflow_run_id": arun},
        }
        for eid, at_, ent, event, other, src, sid, cause, run, rkind, dag, arun in rows
    ]


def _link_changes(conn: Conn, kind: str, ids: list[str], at: str) -> list[dict[str, Any]]:
    out = []
    for entity in ids:
        for link in links(conn, kind, entity, at, current_only=False):
            base = {
                "entity_id": entity,
                "source": link["source"],
                "source_record_id": link["source_record_id"],
            }
            out.append(
                {
                    "at": link["valid_from"],
                    "what": "link_opened",
                    **base,
                    "decision": link["decision"],
                    "score": link["score"],
                    "cause": f"match decision {link['decision']}",
                    "run": {
                        "run_id": link["run_id"],
                        "dag_id": link["dag_id"],
                        "airflow_run_id": link["airflow_run_id"],
                    },
                }
            )
            if link["closed"]:
                out.append(
                    {
                        "at": link["valid_to"],
                        "what": "link_closed",
                        **base,
                        "cause": "record moved, deleted or unmerged",
                    }
                )
    return out


def attribute_changes(conn: Conn, ids: list[str], at: str = NOW) -> list[dict[str, Any]]:
    """When each golden attribute got a new value (not every nightly re-confirmation), from which record."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT a.entity_id, a.attribute, a.value_sha256, a.valid_from, a.rule, a.staged_id,
                      s.source_code, s.source_record_id, a.run_id, r.kind, r.dag_id, r.airflow_run_id
               FROM attribute_lineage a JOIN staged_record s ON s.staged_id = a.staged_id
               JOIN run r ON r.run_id = a.run_id
               WHERE a.entity_kind = 'person' AND a.entity_id = ANY(%s) AND a.valid_from <= %s::timestamptz
                 AND (a.valid_to IS NULL OR a.valid_to > a.valid_from)
               ORDER BY a.entity_id, a.attribute, a.valid_from, a.lineage_id""",
            (ids, at),
        )
        rows = cur.fetchall()
    out: list[dict[str, Any]] = []
    last: dict[tuple[str, str], tuple[str, int]] = {}
    for ent, attr, sha, since, rule, staged, src, sid, run, rkind, dag, arun in rows:
        if last.get((ent, attr)) == (sha, staged):
            continue
        what = "attribute_set" if (ent, attr) not in last else "attribute_changed"
        last[(ent, attr)] = (sha, staged)
        out.append(
            {
                "at": str(since),
                "what": what,
                "entity_id": ent,
                "attribute": attr,
                "value_sha256": sha,
                "rule": rule,
                "staged_id": staged,
                "source": src,
                "source_record_id": sid,
                "cause": f"survivorship {rule} in a {rkind} run",
                "run": {"run_id": run, "kind": rkind, "dag_id": dag, "airflow_run_id": arun},
            }
        )
    return out


def _stringify(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    for key in keys:
        if row.get(key) is not None:
            row[key] = str(row[key])
    return row
