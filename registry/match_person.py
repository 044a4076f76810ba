"""The matcher's stored person records (``match_person``): features, blocking keys, clusters.

A night reads from here only what tonight's records need (``candidate_features`` by blocking keys, then
``records_of`` their whole clusters); the keys themselves are computed by ``matching.blocking`` and handed
in as a function, so this module knows tables, not matching.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg2.extensions
from psycopg2.extras import execute_values

from registry.bulk import copy_rows, temp_table

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
    block_keys: Callable[[dict[str, Any]], list[int] | None] | None = None,
) -> None:
    """Upsert (record, features, registry id, household) into ``match_person``, with its blocking keys.

    Through COPY into a session table, then one INSERT … ON CONFLICT: ``execute_values`` rendered every
    row as SQL text (3.4 of the 6.4 s the links took on a 34k-person night)."""
    values = []
    for r, f, rid, hh in rows:
        keys = block_keys(f) if block_keys else None
        values.append((
            r.source, r.source_record_id, r.staged_id, rid, hh,
            json.dumps({k: v for k, v in f.items() if k not in ("unique_id", "source")}, ensure_ascii=False),
            None if keys is None else "{" + ",".join(map(str, keys)) + "}",
            run_id,
        ))
    with conn.cursor() as cur:
        temp_table(cur, "_match_person_in", "s text, i text, staged bigint, rid text, hh text, f jsonb, "
                   "k bigint[], run bigint")
        copy_rows(cur, "_match_person_in", ("s", "i", "staged", "rid", "hh", "f", "k", "run"), values)
        cur.execute(
            """INSERT INTO match_person (source_code, source_record_id, staged_id, registry_id, household,
                                         features, block_keys, updated_run_id)
               SELECT s, i, staged, rid, hh, f, k, run FROM _match_person_in
               ON CONFLICT (source_code, source_record_id) DO UPDATE SET staged_id = EXCLUDED.staged_id,
                   registry_id = EXCLUDED.registry_id, household = EXCLUDED.household,
                   features = EXCLUDED.features, block_keys = EXCLUDED.block_keys,
                   updated_run_id = EXCLUDED.updated_run_id"""
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


def features_of(conn: Conn, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Record key → stored feature row (with ``unique_id`` and ``source``) for those of ``keys`` stored."""
    rows, _ = _feature_rows(_stored(conn, keys, "m.features"))
    return {str(r["unique_id"]): r for r in rows}


def registry_ids_of(conn: Conn, keys: Iterable[str]) -> dict[str, str]:
    """Record key → registry id for those of ``keys`` that are stored."""
    return {record_key(s, i): str(r) for s, i, r in _stored(conn, keys)}


def _stored(conn: Conn, keys: Iterable[str], extra: str | None = None) -> list[tuple[Any, ...]]:
    """(source, record id, registry id[, ``extra`` column]) of the stored records among ``keys``."""
    pairs = [split_key(k) for k in sorted(set(keys))]
    if not pairs:
        return []
    column = f", {extra}" if extra else ""  # a column name of ours, never a value
    with conn.cursor() as cur:
        cur.execute(
            f"""SELECT k.s, k.i, m.registry_id{column} FROM unnest(%s::text[], %s::text[]) AS k (s, i)
               CROSS JOIN LATERAL (SELECT * FROM match_person m
                                   WHERE m.source_code = k.s AND m.source_record_id = k.i LIMIT 1) m""",
            ([s for s, _ in pairs], [i for _, i in pairs]),
        )
        return list(cur.fetchall())


def block_scheme(conn: Conn) -> str | None:
    """The version of the blocking-key scheme the stored keys were built for (None: none is valid)."""
    with conn.cursor() as cur:
        cur.execute("SELECT version FROM match_block_scheme")
        row = cur.fetchone()
    return str(row[0]) if row else None


Refeature = Callable[[str, str, dict[str, Any]], dict[str, Any]]
"""(source, source record id, canonical person) → the matcher's features of it (``matching.features``)."""


def rebuild_block_keys(
    conn: Conn,
    version: str | None,
    block_keys: Callable[[dict[str, Any]], list[int]] | None,
    run_id: int,
    refeature: Refeature | None = None,
) -> int:
    """Recompute every stored record's keys for scheme ``version`` (None: drop keys and scheme); with
    ``refeature``, first its features from the staged record they were derived from (``staged_id``), so
    a column that standardisation gained since the record was stored is there for the model and the keys.

    Read through a server-side cursor in batches: a million stored records are never in memory at once."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM match_block_scheme")
        if version is None or block_keys is None:
            cur.execute("UPDATE match_person SET block_keys = NULL WHERE block_keys IS NOT NULL")
            return 0
    count = 0
    canonical = "s.canonical" if refeature else "NULL::jsonb"
    with conn.cursor(name="match_person_rebuild") as read:
        read.itersize = _REBUILD_BATCH
        read.execute(f"""SELECT m.source_code, m.source_record_id, m.features, {canonical}
                         FROM match_person m LEFT JOIN staged_record s ON s.staged_id = m.staged_id""")
        while batch := read.fetchmany(_REBUILD_BATCH):
            values = []
            for source, sid, features, person in batch:
                if refeature is not None and person is not None:
                    features = {k: v for k, v in refeature(source, sid, person).items()
                                if k not in ("unique_id", "source")}
                values.append((source, sid, json.dumps(features), block_keys(features)))
            with conn.cursor() as cur:
                execute_values(
                    cur,
                    """UPDATE match_person m SET features = v.f::jsonb, block_keys = v.k::bigint[]
                       FROM (VALUES %s) AS v (s, i, f, k)
                       WHERE m.source_code = v.s AND m.source_record_id = v.i""",
                    values,
                    page_size=5000,
                )
            count += len(batch)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO match_block_scheme (version, built_run_id) VALUES (%s, %s)", (version, run_id)
        )
    return count


_REBUILD_BATCH = 20_000


def forget_features(conn: Conn, keys: list[tuple[str, str]]) -> None:
    with conn.cursor() as cur:
        cur.execute(
            """DELETE FROM match_person m USING unnest(%s::text[], %s::text[]) AS k (s, i)
                       WHERE m.source_code = k.s AND m.source_record_id = k.i""",
            ([s for s, _ in keys], [i for _, i in keys]),
        )


