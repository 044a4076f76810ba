"""Registry reads and writes for reconciliation (persons, links, features, reviews, events)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg2.extensions
from psycopg2.extras import execute_values

Conn = psycopg2.extensions.connection


@dataclass
class StagedRow:
    """A current staged record waiting for reconcile."""

    staged_id: int
    source: str
    kind: str
    source_record_id: str
    canonical: dict[str, Any]
    deleted: bool
    staged_at: str

    @property
    def key(self) -> str:
        return record_key(self.source, self.source_record_id)


def record_key(source: str, source_record_id: str) -> str:
    """The key of a source record inside matching (unique across sources)."""
    return f"{source}|{source_record_id}"


def split_key(key: str) -> tuple[str, str]:
    source, _, sid = key.partition("|")
    return source, sid


def pending(conn: Conn, kinds: Iterable[str] | None = None) -> list[StagedRow]:
    """Current staged records not yet reconciled (new, changed or deleted since the last run)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT staged_id, source_code, record_kind, source_record_id, canonical,
                      deleted_at IS NOT NULL,
                      staged_at::text
               FROM staged_record
               WHERE superseded_by IS NULL AND reconciled_run_id IS NULL
                 AND (%s::text[] IS NULL OR record_kind = ANY(%s::text[]))
               ORDER BY staged_id""",
            (list(kinds) if kinds else None, list(kinds) if kinds else None),
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


@dataclass(frozen=True)
class MembershipRow:
    """A current source membership: who belongs to which source household, in what role, since when."""

    source: str
    source_record_id: str
    person_ref: str
    family_ref: str
    role: str
    period_from: str | None
    period_to: str | None


def current_memberships(conn: Conn) -> list[MembershipRow]:
    """Every current, not deleted membership — only the fields families need (no whole-JSON decode)."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT source_code, source_record_id, canonical ->> 'person_ref', canonical ->> 'family_ref',
                      canonical ->> 'role', canonical ->> 'period_from', canonical ->> 'period_to'
               FROM staged_record WHERE superseded_by IS NULL AND deleted_at IS NULL
                 AND record_kind = 'membership'"""
        )
        return [MembershipRow(*row) for row in cur.fetchall()]


def current_household_categories(conn: Conn) -> dict[str, tuple[str, str, list[dict[str, Any]]]]:
    """Household record key → (source, source record id, categories) of every current household."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT source_code, source_record_id, coalesce(canonical -> 'categories', '[]'::jsonb)
               FROM staged_record WHERE superseded_by IS NULL AND deleted_at IS NULL
                 AND record_kind = 'family'"""
        )
        return {record_key(s, i): (s, i, cats) for s, i, cats in cur.fetchall()}


def mark_reconciled(conn: Conn, staged_ids: list[int], run_id: int) -> None:
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE staged_record s SET reconciled_run_id = %s FROM unnest(%s::bigint[]) AS u (id) "
            "WHERE s.staged_id = u.id",
            (run_id, staged_ids),
        )


FeatureRows = tuple[list[dict[str, Any]], dict[str, str]]
"""(feature rows with ``unique_id`` and ``source``, record key → registry id)."""


def existing_features(conn: Conn) -> FeatureRows:
    """Every stored person record (a model whose blocking rules cannot be keyed needs them all)."""
    with conn.cursor() as cur:
        cur.execute("SELECT source_code, source_record_id, registry_id, features FROM match_person")
        return _feature_rows(cur.fetchall())


def save_features(
    conn: Conn,
    rows: list[tuple[StagedRow, dict[str, Any], str, str | None]],
    run_id: int,
    block_keys: Callable[[dict[str, Any]], list[int]] | None = None,
) -> None:
    """Upsert (record, features, registry id, household) into ``match_person``, with its blocking keys."""
    values = [
        (
            r.source,
            r.source_record_id,
            r.staged_id,
            rid,
            hh,
            json.dumps({k: v for k, v in f.items() if k not in ("unique_id", "source")}),
            block_keys(f) if block_keys else None,
            run_id,
        )
        for r, f, rid, hh in rows
    ]
    with conn.cursor() as cur:
        execute_values(
            cur,
            """INSERT INTO match_person (source_code, source_record_id, staged_id, registry_id, household,
                                         features, block_keys, updated_run_id) VALUES %s
               ON CONFLICT (source_code, source_record_id) DO UPDATE SET staged_id = EXCLUDED.staged_id,
                   registry_id = EXCLUDED.registry_id, household = EXCLUDED.household,
                   features = EXCLUDED.features, block_keys = EXCLUDED.block_keys,
                   updated_run_id = EXCLUDED.updated_run_id""",
            values,
            template="(%s, %s, %s, %s, %s, %s, %s::bigint[], %s)",
            page_size=1000,
        )


def _feature_rows(rows: Iterable[tuple[str, str, str, dict[str, Any]]]) -> FeatureRows:
    feats, ids = [], {}
    for source, sid, registry_id, features in rows:
        key = record_key(source, sid)
        feats.append({**features, "unique_id": key, "source": source})
        ids[key] = str(registry_id)
    return feats, ids


def candidate_features(conn: Conn, keys: list[int]) -> FeatureRows:
    """The stored records carrying any of the blocking ``keys``.

    One index probe per key (a lateral join): with ``block_keys && array`` the planner estimated every row
    and scanned the table, comparing each row with thousands of keys (32 s at 100k source records).
    """
    if not keys:
        return [], {}
    with conn.cursor() as cur:
        cur.execute(
            """WITH hits AS (
                   SELECT DISTINCT m.source_code, m.source_record_id
                   FROM unnest(%s::bigint[]) AS k (key)
                   CROSS JOIN LATERAL (SELECT source_code, source_record_id FROM match_person
                                       WHERE block_keys @> ARRAY[k.key]) m)
               SELECT p.source_code, p.source_record_id, p.registry_id, p.features
               FROM hits JOIN match_person p USING (source_code, source_record_id)""",
            (keys,),
        )
        return _feature_rows(cur.fetchall())


def records_of(conn: Conn, registry_ids: Iterable[str]) -> dict[str, str]:
    """Record key → registry id of every stored record of ``registry_ids`` (whole clusters)."""
    ids = sorted(set(registry_ids))
    if not ids:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            "SELECT source_code, source_record_id, registry_id FROM match_person WHERE registry_id = ANY(%s)",
            (ids,),
        )
        return {record_key(s, i): str(r) for s, i, r in cur.fetchall()}


def registry_ids_of(conn: Conn, keys: Iterable[str]) -> dict[str, str]:
    """Record key → registry id for those of ``keys`` that are stored."""
    pairs = [split_key(k) for k in sorted(set(keys))]
    if not pairs:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            """SELECT m.source_code, m.source_record_id, m.registry_id
               FROM match_person m JOIN unnest(%s::text[], %s::text[]) AS k (s, i)
                 ON m.source_code = k.s AND m.source_record_id = k.i""",
            ([s for s, _ in pairs], [i for _, i in pairs]),
        )
        return {record_key(s, i): str(r) for s, i, r in cur.fetchall()}


def block_scheme(conn: Conn) -> str | None:
    """The version of the blocking-key scheme the stored keys were built for (None: none is valid)."""
    with conn.cursor() as cur:
        cur.execute("SELECT version FROM match_block_scheme")
        row = cur.fetchone()
    return str(row[0]) if row else None


def rebuild_block_keys(
    conn: Conn, version: str | None, block_keys: Callable[[dict[str, Any]], list[int]] | None, run_id: int
) -> int:
    """Recompute every stored record's keys for scheme ``version`` (None: drop keys and scheme)."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM match_block_scheme")
        if version is None or block_keys is None:
            cur.execute("UPDATE match_person SET block_keys = NULL WHERE block_keys IS NOT NULL")
            return 0
        cur.execute("SELECT source_code, source_record_id, features FROM match_person")
        values = [(s, i, block_keys(f)) for s, i, f in cur.fetchall()]
        execute_values(
            cur,
            """UPDATE match_person m SET block_keys = v.k::bigint[] FROM (VALUES %s) AS v (s, i, k)
               WHERE m.source_code = v.s AND m.source_record_id = v.i""",
            values,
            page_size=5000,
        )
        cur.execute(
            "INSERT INTO match_block_scheme (version, built_run_id) VALUES (%s, %s)", (version, run_id)
        )
    return len(values)


def forget_features(conn: Conn, keys: list[tuple[str, str]]) -> None:
    with conn.cursor() as cur:
        cur.execute(
            """DELETE FROM match_person m USING unnest(%s::text[], %s::text[]) AS k (s, i)
                       WHERE m.source_code = k.s AND m.source_record_id = k.i""",
            ([s for s, _ in keys], [i for _, i in keys]),
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
    """Point each source record at its registry entity: close a different current link, open a new one."""
    if not links:
        return
    column = "person_id" if kind == "person" else "family_id"
    with conn.cursor() as cur:
        cur.execute(
            f"""UPDATE entity_link l SET valid_to = now()
                FROM unnest(%s::text[], %s::text[], %s::text[]) AS k (s, i, rid)
                WHERE l.source_code = k.s AND l.source_record_id = k.i AND l.record_kind = %s
                  AND l.valid_to IS NULL AND l.{column} <> k.rid""",
            (
                [x["source"] for x in links],
                [x["source_record_id"] for x in links],
                [x["registry_id"] for x in links],
                kind,
            ),
        )
        execute_values(
            cur,
            f"""INSERT INTO entity_link (source_code, record_kind, source_record_id, {column}, decision,
                                         score,
                                         explanation, model_version, run_id)
                SELECT v.s, v.k, v.i, v.rid, v.d, v.score::double precision, v.e::jsonb, v.m, v.r::bigint
                FROM (VALUES %s) AS v (s, k, i, rid, d, score, e, m, r)
                WHERE NOT EXISTS (SELECT 1 FROM entity_link l
                                  WHERE l.source_code = v.s AND l.record_kind = v.k
                                  AND l.source_record_id = v.i AND l.valid_to IS NULL)""",
            [
                (
                    x["source"],
                    kind,
                    x["source_record_id"],
                    x["registry_id"],
                    x["decision"],
                    x.get("score"),
                    json.dumps(x.get("explanation") or {}),
                    x.get("model_version"),
                    run_id,
                )
                for x in links
            ],
            page_size=1000,
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
