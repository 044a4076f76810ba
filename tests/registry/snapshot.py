"""Registry state compared by meaning, not by ids: for the replay and nightly tests.

A snapshot holds which source records share a registry person or family (registry ids differ from run to
run, partitions must not), the staged records' content hashes, the quarantine reasons and plain counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from registry.db import connect

Key = tuple[str, str]

# Everything the pulls (staging) and reconciles (registry) derived from the raw payloads. Kept: raw_payload,
# raw_payload_chunk, run, source_system, source_cursor and the append-only audit_log.
DERIVED_TABLES = (
    "disclosure", "attribute_lineage", "survivorship_conflict", "match_person", "entity_event",
    "steward_decision", "review_item", "entity_link", "membership", "family_category", "service",
    "health_status", "consent",
    "accompaniment_case", "push_state", "outbox", "registry_person", "registry_family", "quarantine",
    "staged_record", "staged_reconcile",
)


def wipe_derived_state(url: str) -> None:
    """Empty staging and the registry, keeping the raw payloads, runs, sources and watermarks.

    No CASCADE: if a new table refers to one of these, TRUNCATE fails and this list must learn about it.
    """
    with connect(url, owner=True) as conn, conn.cursor() as cur:  # TRUNCATE is the owner's
        cur.execute(f"TRUNCATE {', '.join(DERIVED_TABLES)}")


def _partition(groups: dict[str, set[Key]]) -> frozenset[frozenset[Key]]:
    return frozenset(frozenset(members) for members in groups.values())


def snapshot(url: str) -> dict[str, Any]:
    """The registry at ``url`` described without its ids."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT source_code, source_record_id, person_id FROM entity_link
                       WHERE record_kind = 'person' AND valid_to IS NULL""")
        person_of = {(s, i): str(p) for s, i, p in cur.fetchall()}
        persons: dict[str, set[Key]] = defaultdict(set)
        for key, person in person_of.items():
            persons[person].add(key)
        cur.execute("""SELECT m.family_id, l.source_code, l.source_record_id FROM membership m
                       JOIN entity_link l ON l.person_id = m.person_id AND l.valid_to IS NULL
                       WHERE m.period_to IS NULL""")
        families: dict[str, set[Key]] = defaultdict(set)
        for family, source, sid in cur.fetchall():
            families[str(family)].add((source, sid))
        cur.execute("""SELECT source_code, record_kind, source_record_id, content_sha256, mapping_version,
                              superseded_by IS NULL, deleted_at IS NOT NULL FROM staged_record""")
        staged = Counter(tuple(r) for r in cur.fetchall())
        cur.execute("SELECT source_code, reason_code, raw_sha256, reason FROM quarantine")
        quarantined = Counter(tuple(r) for r in cur.fetchall())
        cur.execute("SELECT count(*) FROM registry_person WHERE status = 'active'")
        active = cur.fetchone()
    return {
        "person_partition": _partition(persons),
        "family_partition": _partition(families),
        "staged": staged,
        "quarantine": quarantined,
        "counts": {
            "active_persons": int(active[0]) if active else 0,
            "linked_person_records": len(person_of),
            "families_with_members": len(families),
            "staged_rows": sum(staged.values()),
            "quarantined": sum(quarantined.values()),
        },
    }


def duplicate_current_versions(url: str) -> int:
    """Source records with more than one current staged version (the unique index should make it 0)."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT count(*) FROM (SELECT 1 FROM staged_record WHERE superseded_by IS NULL
                       GROUP BY source_code, record_kind, source_record_id HAVING count(*) > 1) d""")
        row = cur.fetchone()
    return int(row[0]) if row else 0
