"""Registry reads and writes for reconciliation (persons, links, features, reviews, events)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg2.extensions
from psycopg2.extras import execute_values

from registry.bulk import copy_rows, temp_table
from registry.households import MembershipRow as MembershipRow
from registry.households import current_memberships as current_memberships

# The matcher's own names for the stored-record functions (they live with the tables in registry/).
from registry.match_person import (
    FeatureRows as FeatureRows,
)
from registry.match_person import (
    StagedRow as StagedRow,
)
from registry.match_person import (
    block_scheme as block_scheme,
)
from registry.match_person import (
    candidate_features as candidate_features,
)
from registry.match_person import (
    existing_features as existing_features,
)
from registry.match_person import (
    features_of as features_of,
)
from registry.match_person import (
    forget_features as forget_features,
)
from registry.match_person import (
    rebuild_block_keys as rebuild_block_keys,
)
from registry.match_person import (
    record_key as record_key,
)
from registry.match_person import (
    records_of as records_of,
)
from registry.match_person import (
    registry_ids_of as registry_ids_of,
)
from registry.match_person import (
    save_features as save_features,
)
from registry.match_person import (
    split_key as split_key,
)

Conn = psycopg2.extensions.connection


_PENDING = """FROM staged_reconcile q JOIN staged_record USING (staged_id)
                WHERE q.run_id IS NULL AND superseded_by IS NULL
                AND (%s::text[] IS NULL OR record_kind = ANY(%s::text[]))"""
_ROW = (
    "staged_id, source_code, record_kind, source_record_id, canonical, deleted_at IS NOT NULL, "
    "staged_at::text"
)


def pending(conn: Conn, kinds: Iterable[str] | None = None) -> list[StagedRow]:
    """Current staged records not yet reconciled (new, changed or deleted since the last run)."""
    chosen = list(kinds) if kinds else None
    with conn.cursor() as cur:
        cur.execute(f"SELECT {_ROW} {_PENDING} ORDER BY staged_id", (chosen, chosen))
        return [StagedRow(*row) for row in cur.fetchall()]


def pending_ids(conn: Conn, kinds: Iterable[str]) -> list[int]:
    """The staged ids of :func:`pending` only (a first night's million records need not be in memory)."""
    chosen = list(kinds)
    with conn.cursor() as cur:
        cur.execute(f"SELECT staged_id {_PENDING} ORDER BY staged_id", (chosen, chosen))
        return [int(r[0]) for r in cur.fetchall()]


def pending_keys(conn: Conn, kinds: Iterable[str]) -> list[tuple[int, str, bool]]:
    """(staged id, kind, deleted) of :func:`pending`: what a run answers for, without the records' JSON."""
    chosen = list(kinds)
    with conn.cursor() as cur:
        cur.execute(f"SELECT staged_id, record_kind, deleted_at IS NOT NULL {_PENDING} ORDER BY staged_id",
                    (chosen, chosen))
        return [(int(i), str(k), bool(d)) for i, k, d in cur.fetchall()]


def staged_rows(conn: Conn, staged_ids: list[int]) -> list[StagedRow]:
    """The staged records ``staged_ids``, in id order."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {_ROW} FROM staged_record WHERE staged_id = ANY(%s::bigint[]) ORDER BY staged_id",
            (staged_ids,),
        )
        return [StagedRow(*row) for row in cur.fetchall()]


def current_records(conn: Conn, kinds: Iterable[str]) -> list[StagedRow]:
    """Every current, not deleted staged record of ``kinds`` (memberships and households for families)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT staged_id, source_code, record_kind, source_record_id, canonical, false, staged_at::text
               FROM staged_record WHERE superseded_by IS NULL AND deleted_at IS NULL
                 AND record_kind = ANY(%s::text[])""",
            (list(kinds),),
        )
        return [StagedRow(*row) for row in cur.fetchall()]


def mark_reconciled(conn: Conn, staged_ids: list[int], run_id: int) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE staged_reconcile q SET run_id = %s FROM unnest(%s::bigint[]) AS u (id) "
            "WHERE q.staged_id = u.id",
            (run_id, staged_ids),
        )


def allocate_ids(conn: Conn, table: str, n: int, run_id: int) -> list[str]:
    """``n`` new persistent registry ids from ``registry_person`` or ``registry_family``."""
    if n == 0:
        return []
    with conn.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (created_run_id) SELECT %s FROM generate_series(1, %s) "
            "RETURNING registry_id",
            (run_id, n),
        )
        return sorted(str(r[0]) for r in cur.fetchall())


def set_links(conn: Conn, kind: str, links: list[dict[str, Any]], run_id: int) -> None:
    """Point each source record at its registry entity: close a different current link, open a new one.

    The links go through COPY into a session table, then two statements: ``execute_values`` rendered each
    row and its explanation as SQL text (15 s under cProfile for a 50k-person batch).
    """
    if not links:
        return
    column = "person_id" if kind == "person" else "family_id"
    with conn.cursor() as cur:
        temp_table(cur, "_link_in", "s text, i text, rid text, d text, score double precision, e jsonb, "
                   "m text")
        copy_rows(cur, "_link_in", ("s", "i", "rid", "d", "score", "e", "m"), (
            (x["source"], x["source_record_id"], x["registry_id"], x["decision"], x.get("score"),
             json.dumps(x.get("explanation") or {}, ensure_ascii=False), x.get("model_version"))
            for x in links))
        cur.execute(
            f"""UPDATE entity_link l SET valid_to = now() FROM _link_in k
                WHERE l.source_code = k.s AND l.source_record_id = k.i AND l.record_kind = %s
                  AND l.valid_to IS NULL AND l.{column} <> k.rid""",
            (kind,),
        )
        cur.execute(
            f"""INSERT INTO entity_link (source_code, record_kind, source_record_id, {column}, decision,
                                         score, explanation, model_version, run_id)
                SELECT v.s, %s, v.i, v.rid, v.d, v.score, v.e, v.m, %s FROM _link_in v
                WHERE NOT EXISTS (SELECT 1 FROM entity_link l
                                  WHERE l.source_code = v.s AND l.record_kind = %s
                                  AND l.source_record_id = v.i AND l.valid_to IS NULL)""",
            (kind, run_id, kind),
        )


def close_links(conn: Conn, kind: str, keys: list[tuple[str, str]]) -> None:
    with conn.cursor() as cur:
        cur.execute(
            """UPDATE entity_link l SET valid_to = now()
                       FROM unnest(%s::text[], %s::text[]) AS k (s, i)
                       WHERE l.source_code = k.s AND l.source_record_id = k.i AND l.record_kind = %s
                         AND l.valid_to IS NULL""",
            ([s for s, _ in keys], [i for _, i in keys], kind),
        )


def tombstone(conn: Conn, table: str, replaced: str, survivor: str) -> None:
    """Mark ``replaced`` as merged into ``survivor`` (its id is never reused)."""
    with conn.cursor() as cur:
        cur.execute(
            f"UPDATE {table} SET status = 'replaced', replaced_by = %s, updated_at = now() "
            "WHERE registry_id = %s",
            (survivor, replaced),
        )
        cur.execute(f"UPDATE {table} SET replaced_by = %s WHERE replaced_by = %s", (survivor, replaced))


def events(
    conn: Conn, rows: Sequence[tuple[str, str, str, str | None, str | None, str | None, str]], run_id: int
) -> None:
    """Append entity events (kind, id, event, other id, source, source record id, cause)."""
    if not rows:
        return
    with conn.cursor() as cur:
        execute_values(
            cur,
            """INSERT INTO entity_event (entity_kind, entity_id, event, other_id, source_code,
                                                          source_record_id, cause, run_id) VALUES %s""",
            [(*r, run_id) for r in rows],
            page_size=1000,
        )


def steward_decisions(
    conn: Conn, entity_kind: str = "person"
) -> tuple[set[tuple[str, str]], list[tuple[str, str]]]:
    """(never_link pairs, link pairs) as (record key, registry id), latest decision per pair winning."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT DISTINCT ON (source_code, source_record_id, registry_id) kind, source_code,
                      source_record_id, registry_id
               FROM steward_decision WHERE entity_kind = %s AND kind IN ('link', 'never_link')
               ORDER BY source_code, source_record_id, registry_id, decision_id DESC""",
            (entity_kind,),
        )
        never: set[tuple[str, str]] = set()
        link: list[tuple[str, str]] = []
        for kind, source, sid, registry_id in cur.fetchall():
            (never.add if kind == "never_link" else link.append)((record_key(source, sid), registry_id))
    return never, link


def open_reviews(conn: Conn, rows: list[dict[str, Any]], run_id: int) -> int:
    """Queue uncertain pairs for stewards (once per record and candidate while open)."""
    if not rows:
        return 0
    with conn.cursor() as cur:
        inserted = execute_values(
            cur,
            """INSERT INTO review_item (entity_kind, source_code, source_record_id, candidate_id, score,
                                        explanation, model_version, created_run_id) VALUES %s
               ON CONFLICT (entity_kind, source_code, source_record_id, candidate_id) WHERE status = 'open'
               DO NOTHING RETURNING 1""",
            [
                (
                    "person",
                    r["source"],
                    r["source_record_id"],
                    r["candidate_id"],
                    r["score"],
                    json.dumps(r["explanation"]),
                    r["model_version"],
                    run_id,
                )
                for r in rows
            ],
            fetch=True,  # rowcount would count only the last page of 100 rows
        )
        return len(inserted)
