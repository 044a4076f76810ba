"""An incremental night re-derives only the families its changes reach — and gives the registry that
re-deriving every family gives, persons and review queue included (family support then reads households
by key). Two registries of the same sandbox, one scoped on every incremental night and one never, go
through three nights and a steward's unmerge; after each night they are the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from matching.config import load_config
from matching.household_index import HouseholdIndex
from matching.reconcile import reconcile
from matching.steward import unmerge
from matching.store import current_memberships
from registry.db import connect
from sandbox.generate import advance
from tests.worlds import pull_all, sandbox_region

FAMILY_TABLES = {
    "links": """SELECT source_code, source_record_id, family_id FROM entity_link
                WHERE record_kind = 'family' AND valid_to IS NULL ORDER BY 1, 2""",
    "memberships": """SELECT family_id, person_id, role, period_from::text, period_to::text, source_code,
                             source_record_id FROM membership ORDER BY 1, 2, 3, 4""",
    "categories": "SELECT family_id, category, since::text, until::text FROM family_category ORDER BY 1, 2",
    "golden": "SELECT registry_id, status, golden::text FROM registry_family ORDER BY 1",
    # Family support looks households up by key on a small night and reads them all on a big one.
    "persons": """SELECT source_code, source_record_id, person_id, decision FROM entity_link
                  WHERE record_kind = 'person' AND valid_to IS NULL ORDER BY 1, 2""",
    "reviews": "SELECT source_code, source_record_id, candidate_id, status FROM review_item ORDER BY 1, 2, 3",
}


def _state(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with connect(url) as conn, conn.cursor() as cur:
        out = {}
        for name, sql in FAMILY_TABLES.items():
            cur.execute(sql)
            out[name] = cur.fetchall()
        return out


def _unmerge_one(url: str) -> None:
    """A steward takes a record that is itself a household member out of a person with several."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT m.registry_id, m.source_code, m.source_record_id FROM match_person m
                       JOIN staged_record s ON s.record_kind = 'membership' AND s.superseded_by IS NULL
                        AND s.deleted_at IS NULL AND s.source_code = m.source_code
                        AND s.canonical ->> 'person_ref' = m.source_record_id
                       WHERE m.registry_id IN (SELECT registry_id FROM match_person GROUP BY 1
                                               HAVING count(*) >= 2)
                       ORDER BY 1, 2, 3 LIMIT 1""")
        pid, source, sid = cur.fetchone()
        unmerge(conn, pid, source, sid, who="test", reason="two people")


def _empty_a_household(url: str) -> None:
    """An agency deletes every membership of one of a family's households (as staging marks a deleted
    record): the family's other households are then reachable only through the family's own links."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT l.source_code, l.source_record_id FROM entity_link l
                       WHERE l.record_kind = 'family' AND l.valid_to IS NULL
                         AND l.family_id IN (SELECT family_id FROM entity_link WHERE record_kind = 'family'
                                             AND valid_to IS NULL GROUP BY 1 HAVING count(*) >= 2)
                       ORDER BY l.family_id, l.source_code, l.source_record_id LIMIT 1""")
        source, household = cur.fetchone()
        cur.execute("""WITH d AS (UPDATE staged_record SET deleted_at = now()
                       WHERE record_kind = 'membership' AND superseded_by IS NULL AND deleted_at IS NULL
                         AND source_code = %s AND canonical ->> 'family_ref' = %s RETURNING staged_id)
                       UPDATE staged_reconcile q SET run_id = NULL FROM d WHERE q.staged_id = d.staged_id""",
                    (source, household))
        assert cur.rowcount > 0


def _move_a_membership(url: str) -> None:
    """An agency moves a member to a household of its own (a new version of the membership with another
    household, as staging writes it). The person has no other record, so only the superseded version
    says which household lost a member."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT s.staged_id FROM staged_record s
                       JOIN match_person m ON m.source_code = s.source_code
                        AND m.source_record_id = s.canonical ->> 'person_ref'
                       WHERE s.record_kind = 'membership' AND s.superseded_by IS NULL
                         AND s.deleted_at IS NULL AND s.canonical ->> 'period_to' IS NULL
                         AND m.registry_id IN (SELECT registry_id FROM match_person GROUP BY 1
                                               HAVING count(*) = 1)
                       ORDER BY s.source_code, s.source_record_id LIMIT 1""")
        (old,) = cur.fetchone()
        cur.execute("SELECT nextval('staged_record_staged_id_seq')")
        (new,) = cur.fetchone()
        cur.execute("UPDATE staged_record SET superseded_by = %s WHERE staged_id = %s", (new, old))
        cur.execute("""INSERT INTO staged_record (staged_id, source_code, record_kind, source_record_id,
                              content_sha256, canonical, mapping_name, mapping_version, payload_id,
                              raw_pointer, run_id)
                       SELECT %s, source_code, record_kind, source_record_id,
                              md5(staged_id::text) || md5('x'),
                              jsonb_set(canonical, '{family_ref}', to_jsonb('moved-' || source_record_id)),
                              mapping_name, mapping_version, payload_id, raw_pointer, run_id
                       FROM staged_record WHERE staged_id = %s""", (new, old))


def _lookups_agree(url: str) -> int:
    """The index built from every membership and the one fetched by key answer alike for 300 records."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT source_code || '|' || source_record_id FROM match_person ORDER BY 1 LIMIT 300")
        keys = [r[0] for r in cur.fetchall()]
        everything = HouseholdIndex(current_memberships(conn))
        fetched = HouseholdIndex([], conn)
        fetched.load(keys)
        for key in keys:
            assert fetched.of(key) == everything.of(key), key
            for household in everything.of(key):
                assert fetched.members(household) == everything.members(household), household
        return sum(len(everything.of(k)) for k in keys)


def _nights(pg_server_url: str, sandbox: Path, share: float, prefix: str) -> list[Any]:
    cfg = load_config().model_copy(update={"family_scope_share": share})
    seen = []
    with sandbox_region(pg_server_url, sandbox, 70, seed=71, prefix=prefix) as url:
        for night in range(3):
            if night:
                advance(sandbox)
            pull_all(url)
            if night == 2:
                _empty_a_household(url)
                _move_a_membership(url)
            stats = reconcile(url, config=cfg)
            if night == 1:
                assert _lookups_agree(url) > 100
                _unmerge_one(url)
                stats = {**stats, "after_unmerge": reconcile(url, config=cfg)}
            seen.append((stats, _state(url)))
    return seen


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str) -> dict[str, list[Any]]:
    return {
        "scoped": _nights(pg_server_url, tmp_path_factory.mktemp("scoped") / "sbx", 1.0, "hub_scoped"),
        "full": _nights(pg_server_url, tmp_path_factory.mktemp("full") / "sbx", 0.0, "hub_fullfam"),
    }


def test_scoped_nights_give_the_families_full_nights_give(runs: dict[str, list[Any]]) -> None:
    for night, ((_, scoped), (_, full)) in enumerate(zip(runs["scoped"], runs["full"], strict=True)):
        for table in FAMILY_TABLES:
            assert scoped[table] == full[table], f"night {night + 1}: {table} differ"


def test_incremental_nights_were_scoped_and_read_less(runs: dict[str, list[Any]]) -> None:
    first, second, third = (stats for stats, _ in runs["scoped"])
    assert not first["families"]["scoped"]  # a first night re-derives everything
    assert second["families"]["scoped"]
    assert third["families"]["scoped"]
    full_second = runs["full"][1][0]
    assert not full_second["families"]["scoped"]
    assert second["families"]["households"] < full_second["families"]["households"]
    # The steward's unmerge alone is re-derived the next reconcile: a handful of households, not all.
    after = second["after_unmerge"]["families"]
    assert after["scoped"]
    assert 0 < after["households"] < full_second["families"]["households"] / 4
