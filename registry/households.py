"""Source households and memberships by key: what an incremental family step reads instead of everything.

Every lookup is a lateral join on an index (one probe per key), so its cost follows the number of keys,
not the size of the registry. Household keys are ``source|record id`` like every record key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import psycopg2.extensions

from registry.match_person import record_key, split_key

Conn = psycopg2.extensions.connection


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

    @property
    def person_key(self) -> str:
        return record_key(self.source, self.person_ref)

    @property
    def household_key(self) -> str:
        return record_key(self.source, self.family_ref)


_MEMBERSHIP = """s.source_code, s.source_record_id, s.canonical ->> 'person_ref',
                 s.canonical ->> 'family_ref', s.canonical ->> 'role', s.canonical ->> 'period_from',
                 s.canonical ->> 'period_to'"""


def current_memberships(conn: Conn) -> list[MembershipRow]:
    """Every current, not deleted membership — only the fields families need (no whole-JSON decode)."""
    with conn.cursor() as cur:
        cur.execute(f"""SELECT {_MEMBERSHIP} FROM staged_record s
                        WHERE s.superseded_by IS NULL AND s.deleted_at IS NULL
                          AND s.record_kind = 'membership'""")
        return [MembershipRow(*row) for row in cur.fetchall()]


def _split(keys: Iterable[str]) -> tuple[list[str], list[str]]:
    pairs = [split_key(k) for k in sorted(set(keys))]
    return [s for s, _ in pairs], [i for _, i in pairs]


def memberships_of(
    conn: Conn, *, households: Iterable[str] = (), persons: Iterable[str] = ()
) -> list[MembershipRow]:
    """Current memberships of the household keys and of the person record keys given."""
    out: dict[tuple[str, str], MembershipRow] = {}
    with conn.cursor() as cur:
        for column, keys in (("family_ref", households), ("person_ref", persons)):
            sources, refs = _split(keys)
            if not sources:
                continue
            cur.execute(
                f"""SELECT {_MEMBERSHIP} FROM unnest(%s::text[], %s::text[]) AS k (src, ref)
                    CROSS JOIN LATERAL (
                        SELECT * FROM staged_record s WHERE s.record_kind = 'membership'
                          AND s.source_code = k.src AND s.canonical ->> '{column}' = k.ref
                          AND s.superseded_by IS NULL) s
                    WHERE s.deleted_at IS NULL""",
                (sources, refs),
            )
            for row in cur.fetchall():
                m = MembershipRow(*row)
                out[(m.source, m.source_record_id)] = m
    return list(out.values())


def family_links(conn: Conn, households: Iterable[str]) -> dict[str, str]:
    """Household key → its current registry family, for the keys that have one."""
    sources, ids = _split(households)
    if not sources:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            """SELECT l.source_code, l.source_record_id, l.family_id
               FROM unnest(%s::text[], %s::text[]) AS k (src, rid)
               JOIN entity_link l ON l.source_code = k.src AND l.source_record_id = k.rid
                AND l.record_kind = 'family' AND l.valid_to IS NULL""",
            (sources, ids),
        )
        return {record_key(s, i): str(f) for s, i, f in cur.fetchall()}


def households_of_families(conn: Conn, family_ids: Iterable[str]) -> dict[str, str]:
    """Household key → family, for every household currently linked to one of ``family_ids``."""
    ids = sorted(set(family_ids))
    if not ids:
        return {}
    with conn.cursor() as cur:
        cur.execute(
            """SELECT l.source_code, l.source_record_id, l.family_id FROM unnest(%s::text[]) AS k (fid)
               JOIN entity_link l ON l.family_id = k.fid AND l.valid_to IS NULL
                AND l.record_kind = 'family'""",
            (ids,),
        )
        return {record_key(s, i): str(f) for s, i, f in cur.fetchall()}


def household_categories(
    conn: Conn, households: Iterable[str] | None = None
) -> dict[str, tuple[str, str, list[dict[str, Any]]]]:
    """Household key → (source, record id, categories) of current household records (``None``: all)."""
    select = """SELECT s.source_code, s.source_record_id,
                       coalesce(s.canonical -> 'categories', '[]'::jsonb)"""
    with conn.cursor() as cur:
        if households is None:
            cur.execute(f"""{select} FROM staged_record s WHERE s.superseded_by IS NULL
                            AND s.deleted_at IS NULL AND s.record_kind = 'family'""")
        else:
            sources, ids = _split(households)
            cur.execute(
                f"""{select} FROM unnest(%s::text[], %s::text[]) AS k (src, rid)
                    JOIN staged_record s ON s.source_code = k.src AND s.source_record_id = k.rid
                     AND s.record_kind = 'family' AND s.superseded_by IS NULL AND s.deleted_at IS NULL""",
                (sources, ids),
            )
        return {record_key(s, i): (s, i, cats) for s, i, cats in cur.fetchall()}


def pending_households(conn: Conn, staged_ids: list[int]) -> set[str]:
    """The households the staged family and membership records ``staged_ids`` speak of (deleted ones too)."""
    if not staged_ids:
        return set()
    with conn.cursor() as cur:
        # A membership that moved to another household leaves its old household too: the versions it
        # superseded name it, back to the last one a reconcile saw.
        cur.execute(
            """WITH RECURSIVE chain AS (
                   SELECT p.staged_id, p.source_code, p.canonical, q.run_id AS reconciled_run_id
                   FROM staged_record p JOIN staged_reconcile q USING (staged_id)
                   WHERE p.superseded_by = ANY(%s::bigint[]) AND p.record_kind = 'membership'
                   UNION ALL
                   SELECT p.staged_id, p.source_code, p.canonical, q.run_id
                   FROM staged_record p JOIN staged_reconcile q ON q.staged_id = p.staged_id
                   JOIN chain c ON p.superseded_by = c.staged_id
                   WHERE c.reconciled_run_id IS NULL)
               SELECT s.source_code, CASE WHEN s.record_kind = 'family' THEN s.source_record_id
                                          ELSE s.canonical ->> 'family_ref' END
               FROM staged_record s WHERE s.staged_id = ANY(%s::bigint[])
               UNION
               SELECT source_code, canonical ->> 'family_ref' FROM chain""",
            (staged_ids, staged_ids),
        )
        return {record_key(s, ref) for s, ref in cur.fetchall() if ref}


def queue_dirty(conn: Conn, person_ids: Iterable[str]) -> None:
    """Mark registry persons whose records moved outside a reconcile (a steward's decision)."""
    ids = sorted({p for p in person_ids if p})
    if ids:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO family_dirty (person_id) SELECT unnest(%s::text[])", (ids,))


def take_dirty(conn: Conn) -> set[str]:
    """The queued persons this transaction sees, removed from the queue."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM family_dirty RETURNING person_id")
        return {str(r[0]) for r in cur.fetchall()}
