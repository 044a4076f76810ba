"""What the family step re-derives tonight: every household (the first night), or only those its changes
can reach (an incremental night).

A household's family can change when a record of the household changed (a family or membership record of
tonight, deleted ones too), or when one of its members' registry persons changed (a person record of
tonight, a merge, a steward's decision queued in ``family_dirty``). From those seeds the scope grows to a
fixed point: every household of a family already holding a household in scope (a family may lose a
household and must be re-derived whole), and every household sharing a registry person with one in scope
(it may join). Inside the scope the step runs exactly as over the whole registry; outside, nothing it
computes could change. ``tests/matching/test_family_scope.py`` compares both over several nights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from matching.store import Conn, MembershipRow, current_memberships, records_of, registry_ids_of
from registry import households as hh


@dataclass
class FamilyInputs:
    """The rows the family step derives families from; ``scoped``: only part of the registry."""

    memberships: list[MembershipRow]
    categories: dict[str, tuple[str, str, list[dict[str, Any]]]]
    person_ids: dict[str, str]  # person record key → registry id (members of the households in scope)
    existing: dict[str, str]  # household key → its current family
    scoped: bool = False
    households: set[str] = field(default_factory=set)


def everything(conn: Conn, memberships: list[MembershipRow] | None = None) -> FamilyInputs:
    """Every current household, membership and family link (a first night, or a model change)."""
    memberships = memberships if memberships is not None else current_memberships(conn)
    with conn.cursor() as cur:
        cur.execute("SELECT source_code, source_record_id, registry_id FROM match_person")
        person_ids = {f"{s}|{i}": str(r) for s, i, r in cur.fetchall()}
        cur.execute("""SELECT source_code, source_record_id, family_id FROM entity_link
                       WHERE record_kind = 'family' AND valid_to IS NULL""")
        existing = {f"{s}|{i}": str(f) for s, i, f in cur.fetchall()}
    categories = hh.household_categories(conn)
    households = {m.household_key for m in memberships} | set(categories)
    return FamilyInputs(memberships, categories, person_ids, existing, False, households)


def reachable(conn: Conn, households: set[str], person_keys: set[str], person_ids: set[str]) -> FamilyInputs:
    """The inputs of the households reachable from the seeds (household keys, person record keys, ids)."""
    person_keys = set(person_keys) | set(records_of(conn, person_ids))
    scope: set[str] = set(households)
    seen_households: set[str] = set()
    seen_persons: set[str] = set()
    seen_families: set[str] = set()
    memberships: dict[tuple[str, str], MembershipRow] = {}
    existing: dict[str, str] = {}
    asked: set[str] = set()
    ids: dict[str, str] = {}
    while (new_h := scope - seen_households) | (new_p := person_keys - seen_persons):
        seen_households |= new_h
        seen_persons |= new_p
        found = hh.memberships_of(conn, households=new_h, persons=new_p)
        for m in found:
            memberships[(m.source, m.source_record_id)] = m
        scope |= {m.household_key for m in found}
        links = hh.family_links(conn, scope - asked)
        asked |= scope
        existing.update(links)
        families = set(links.values()) - seen_families
        seen_families |= families
        siblings = hh.households_of_families(conn, families)
        existing.update(siblings)
        scope |= set(siblings)
        members = {m.person_key for m in found} - ids.keys()
        member_ids = registry_ids_of(conn, members)
        ids.update(member_ids)
        cluster = records_of(conn, set(member_ids.values()))
        ids.update(cluster)
        person_keys |= set(cluster)
    # Memberships of every household in scope (a walk through persons may have found only some).
    for m in hh.memberships_of(conn, households=scope):
        memberships[(m.source, m.source_record_id)] = m
    rows = list(memberships.values())
    missing = {m.person_key for m in rows} - ids.keys()
    ids.update(registry_ids_of(conn, missing))
    categories = hh.household_categories(conn, scope)
    return FamilyInputs(rows, categories, ids, {k: v for k, v in existing.items() if k in scope}, True,
                        scope | set(categories))
