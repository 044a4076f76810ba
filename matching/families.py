"""Households → registry families, memberships and categories.

Each agency sees a household its own way: a social-protection family card, an EGISSO fact, an NGO
household, or a child's card at a school or a clinic with its representatives. Two source households are
one family when they share a registry person through a *current* membership (a foster child's ended
membership in the birth family does not join the two). Families keep persistent ids like persons do: a
cluster keeps its oldest id, others become tombstones.

Memberships and categories are derived again each night from all current source memberships (cheap: one
pass over memberships); the expensive person matching is what runs incrementally.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from psycopg2.extras import execute_values

from matching import store
from matching.cluster import Edge, cluster
from matching.family_scope import FamilyInputs
from matching.store import Conn, record_key, split_key
from matching.store import MembershipRow as Membership
from matching.survivorship import load_policy

ROLE_ORDER = ("mother", "father", "guardian", "foster_parent", "child", "other_relative")


@dataclass
class FamilyStats:
    """Counts of the family step."""

    households: int = 0
    families: int = 0
    new_families: int = 0
    merges: int = 0
    memberships: int = 0
    categories: int = 0
    golden_updated: int = 0


def reconcile_families(conn: Conn, run_id: int, inputs: FamilyInputs) -> tuple[FamilyStats, set[str]]:
    """Cluster the households of ``inputs`` into registry families; rebuild their memberships and categories.

    Returns the counts and the families whose rows were re-derived (all of them unless ``inputs.scoped``).
    """
    stats = FamilyStats()
    memberships, families, person_ids, existing = (
        inputs.memberships, inputs.categories, inputs.person_ids, inputs.existing
    )
    households = sorted(inputs.households | {m.household_key for m in memberships} | set(families))
    stats.households = len(households)
    edges = _shared_person_edges(memberships, person_ids)
    result = cluster(
        {h: existing[h] for h in households if h in existing},
        [h for h in households if h not in existing],
        edges,
        set(),
    )
    labels = sorted({v for v in result.assignment.values() if v.startswith("new:")}, key=lambda s: int(s[4:]))
    fresh = dict(zip(labels, store.allocate_ids(conn, "registry_family", len(labels), run_id), strict=True))
    assignment = {h: fresh.get(rid, rid) for h, rid in result.assignment.items()}
    for replaced, survivor in result.merges:
        store.tombstone(conn, "registry_family", replaced, survivor)
    store.events(
        conn,
        [("family", rid, "created", None, None, None, "reconcile: new household") for rid in fresh.values()]
        + [
            ("family", r, "merged_into", s, None, None, "reconcile: households share members")
            for r, s in result.merges
        ],
        run_id,
    )
    stats.new_families, stats.merges = len(fresh), len(result.merges)
    stats.families = len(set(assignment.values()))
    _link_households(conn, assignment, existing, run_id)
    touched = set(assignment.values()) | set(existing.values())
    scope = touched if inputs.scoped else None
    stats.memberships = _rebuild_memberships(conn, memberships, assignment, person_ids, scope)
    stats.categories = _rebuild_categories(conn, families, assignment, scope)
    return stats, touched


def _shared_person_edges(memberships: list[Membership], person_ids: dict[str, str]) -> list[Edge]:
    """Chain the households of each registry person (current memberships only)."""
    by_person: dict[str, list[str]] = defaultdict(list)
    for m in memberships:
        person = person_ids.get(record_key(m.source, m.person_ref))
        if person is None or m.period_to:
            continue
        by_person[person].append(record_key(m.source, m.family_ref))
    edges = []
    for person, hhs in by_person.items():
        chain = sorted(set(hhs))
        edges += [Edge(a, b, "rule", None, {"shared_person": person}) for a, b in pairwise(chain)]
    return edges


def _link_households(conn: Conn, assignment: dict[str, str], existing: dict[str, str], run_id: int) -> None:
    links = []
    for household, family_id in assignment.items():
        if existing.get(household) == family_id:
            continue
        source, sid = split_key(household)
        links.append(
            {
                "source": source,
                "source_record_id": sid,
                "registry_id": family_id,
                "decision": "family_inferred",
                "explanation": {"rule": "households share a member"},
            }
        )
    store.set_links(conn, "family", links, run_id)


def _rebuild_memberships(
    conn: Conn,
    memberships: list[Membership],
    assignment: dict[str, str],
    person_ids: dict[str, str],
    scope: set[str] | None,
) -> int:
    trust = load_policy()["family"]["role"]["trust"]
    best: dict[tuple[str, str], tuple[tuple[int, str, str], tuple[Any, ...]]] = {}
    for m in memberships:
        family = assignment.get(record_key(m.source, m.family_ref))
        person = person_ids.get(record_key(m.source, m.person_ref))
        if family is None or person is None:
            continue
        rank = (trust.index(m.source) if m.source in trust else len(trust), m.source, m.source_record_id)
        values = (m.role, m.period_from, m.period_to, m.source, m.source_record_id)
        if (family, person) not in best or rank < best[(family, person)][0]:
            best[(family, person)] = (rank, values)
    rows = [(f, p, *v) for (f, p), (_, v) in sorted(best.items())]
    with conn.cursor() as cur:
        _clear(cur, "membership", scope)
        execute_values(
            cur,
            """INSERT INTO membership (family_id, person_id, role, period_from, period_to,
                                   source_code, source_record_id) VALUES %s""",
            rows,
            page_size=2000,
        )
    return len(rows)


def _rebuild_categories(
    conn: Conn,
    families: dict[str, tuple[str, str, list[dict[str, Any]]]],
    assignment: dict[str, str],
    scope: set[str] | None,
) -> int:
    trust = load_policy()["family"]["categories"]["trust"]
    best: dict[tuple[str, str], tuple[tuple[int, bool, str, str], tuple[Any, ...]]] = {}
    for key, (source, source_record_id, categories) in families.items():
        family = assignment.get(key)
        if family is None:
            continue
        trust_rank = trust.index(source) if source in trust else len(trust)
        for cat in categories:
            # A category still open beats one whose period ended (an EGISSO measure's term, say).
            rank = (trust_rank, cat.get("until") is not None, source, source_record_id)
            values = (cat.get("since"), cat.get("until"), source)
            if (family, cat["category"]) not in best or rank < best[(family, cat["category"])][0]:
                best[(family, cat["category"])] = (rank, values)
    rows = [(f, c, *v) for (f, c), (_, v) in sorted(best.items())]
    with conn.cursor() as cur:
        _clear(cur, "family_category", scope)
        execute_values(
            cur,
            """INSERT INTO family_category (family_id, category, since, until, source_code)
                               VALUES %s""",
            rows,
            page_size=2000,
        )
    return len(rows)


def _clear(cur: Any, table: str, scope: set[str] | None) -> None:
    """Delete the derived rows of the families in ``scope`` (``None``: of every family)."""
    if scope is None:
        cur.execute(f"DELETE FROM {table}")
    else:
        cur.execute(f"DELETE FROM {table} WHERE family_id = ANY(%s)", (sorted(scope),))


_FAMILY_GOLDEN_SQL = """
WITH members AS (
    SELECT family_id, jsonb_agg(jsonb_build_object('person_id', person_id, 'role', role,
                                                   'since', period_from, 'until', period_to)
                                ORDER BY role, person_id) AS members
    FROM membership GROUP BY family_id),
cats AS (
    SELECT family_id, jsonb_agg(jsonb_build_object('category', category, 'since', since, 'until', until,
                                                   'source', source_code) ORDER BY category) AS categories
    FROM family_category GROUP BY family_id),
cases AS (
    SELECT DISTINCT ON (family_id) family_id,
           jsonb_build_object('case_id', case_id, 'level', level, 'stage', stage, 'opened_on', opened_on,
                              'closed_on', closed_on, 'closure_reason', closure_reason,
                              'source', source_code) AS accompaniment
    FROM accompaniment_case ORDER BY family_id, (closed_on IS NULL) DESC, opened_on DESC),
households AS (
    SELECT family_id, jsonb_agg(DISTINCT source_code) AS sources FROM entity_link
    WHERE record_kind = 'family' AND valid_to IS NULL GROUP BY family_id),
fresh AS (
    SELECT f2.registry_id, jsonb_strip_nulls(jsonb_build_object(
        'members', coalesce(m.members, '[]'::jsonb), 'categories', coalesce(c.categories, '[]'::jsonb),
        'accompaniment', a.accompaniment, 'sources', coalesce(h.sources, '[]'::jsonb),
        'address', addr.address)) AS golden
    FROM registry_family f2
    LEFT JOIN members m ON m.family_id = f2.registry_id
    LEFT JOIN cats c ON c.family_id = f2.registry_id
    LEFT JOIN cases a ON a.family_id = f2.registry_id
    LEFT JOIN households h ON h.family_id = f2.registry_id
    LEFT JOIN LATERAL (
        SELECT s.canonical -> 'address' AS address FROM entity_link l
        JOIN staged_record s ON s.source_code = l.source_code AND s.source_record_id = l.source_record_id
             AND s.record_kind = 'family' AND s.superseded_by IS NULL AND s.deleted_at IS NULL
        WHERE l.family_id = f2.registry_id AND l.valid_to IS NULL AND s.canonical ? 'address'
        ORDER BY array_position(%s::text[], l.source_code), s.staged_at DESC LIMIT 1) addr ON true
    WHERE f2.status = 'active' AND (%s::text[] IS NULL OR f2.registry_id = ANY(%s::text[])))
-- Only a golden record that changed is written: an unchanged family keeps its row, its updated_at and
-- its WAL (every family used to be rewritten every night).
UPDATE registry_family f SET golden = n.golden, updated_at = now()
FROM fresh n
WHERE f.registry_id = n.registry_id AND f.golden IS DISTINCT FROM n.golden
"""


def refresh_family_golden(conn: Conn, family_ids: set[str] | None = None) -> int:
    """The golden family: members with roles, categories, current accompaniment, address, sources.

    ``family_ids``: only those (the families an incremental night touched); ``None``: every family.
    """
    trust = load_policy()["family"]["address"]["trust"]
    ids = sorted(family_ids) if family_ids is not None else None
    with conn.cursor() as cur:
        cur.execute(_FAMILY_GOLDEN_SQL, (trust, ids, ids))
        return int(cur.rowcount)
