"""Reconciliation end to end: sandbox agencies on 127.0.0.1 → pulls → reconcile → registry vs the truth.

One registry is built for the module (a real PostgreSQL database): night 1, checks, stewards' decisions,
night 2, checks. Tests run in file order and build on each other's state on purpose (like nights do).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from matching.evaluate import evaluate
from matching.reconcile import reconcile
from matching.steward import decide_review, unmerge
from registry.db import connect
from sandbox.generate import advance
from tests.worlds import pull_all, sandbox_region


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str) -> Iterator[dict[str, Any]]:
    sandbox = tmp_path_factory.mktemp("reconcile") / "sbx"
    with sandbox_region(pg_server_url, sandbox, 150, seed=31, prefix="hub_reconcile") as url:
        yield {"sandbox": sandbox, "url": url, "night1": _night(url)}


def _night(url: str) -> dict[str, Any]:
    pull_all(url)
    return reconcile(url)


def _links(url: str) -> dict[tuple[str, str], str]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT source_code, source_record_id, person_id FROM entity_link "
            "WHERE record_kind = 'person' AND valid_to IS NULL"
        )
        return {(s, i): str(p) for s, i, p in cur.fetchall()}


def _scalar(url: str, sql: str, *args: Any) -> Any:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql, args)
        row = cur.fetchone()
    return row[0] if row else None


def test_night_one_matches_the_truth(world: dict[str, Any]) -> None:
    scores = evaluate(world["sandbox"], world["url"])
    assert scores["persons"]["records"] > 1000
    assert scores["persons"]["precision"] >= 0.995, scores["persons"]
    assert scores["persons"]["recall"] >= 0.99, scores["persons"]
    assert scores["families"]["precision"] >= 0.99, scores["families"]
    assert scores["families"]["recall"] >= 0.99, scores["families"]


def test_every_linked_record_has_an_explanation_and_every_person_a_golden_record(
    world: dict[str, Any],
) -> None:
    url = world["url"]
    assert (
        _scalar(
            url,
            "SELECT count(*) FROM entity_link WHERE valid_to IS NULL AND decision IN ('rule', 'auto') "
            "AND explanation = '{}'::jsonb",
        )
        == 0
    )
    assert (
        _scalar(url, "SELECT count(*) FROM registry_person WHERE status = 'active' AND golden = '{}'::jsonb")
        == 0
    )
    assert (
        _scalar(
            url,
            "SELECT count(*) FROM staged_record JOIN staged_reconcile q USING (staged_id) "
            "WHERE superseded_by IS NULL AND q.run_id IS NULL",
        )
        == 0
    )
    no_golden = "SELECT count(*) FROM registry_family WHERE status = 'active' AND NOT golden ? 'members'"
    assert _scalar(url, no_golden) == 0


def test_every_scored_link_explains_each_comparison(world: dict[str, Any]) -> None:
    """The weight of each comparison, its level and the prior add up to the pair's match weight."""
    with connect(world["url"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT explanation FROM entity_link WHERE valid_to IS NULL AND decision = 'auto'")
        explained = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT explanation FROM review_item")
        explained += [row[0] for row in cur.fetchall()]
    assert len(explained) > 10
    for e in explained:
        assert {"name", "birth_date"} <= set(e["comparisons"]), e
        total = e["prior_weight"] + sum(e["comparisons"].values())
        assert abs(total - e["match_weight"]) < 0.05, e
        assert 0.0 < e["match_probability"] <= 1.0
        assert set(e["levels"]) == set(e["comparisons"])


def test_reconciling_again_changes_nothing(world: dict[str, Any]) -> None:
    before = _links(world["url"])
    stats = reconcile(world["url"])
    assert stats["persons"]["records"] == 0
    assert stats["persons"]["new_persons"] == 0
    assert _links(world["url"]) == before


def test_an_unmerge_survives_later_runs(world: dict[str, Any]) -> None:
    url = world["url"]
    pid = _scalar(
        url,
        """SELECT person_id FROM entity_link WHERE record_kind = 'person' AND valid_to IS NULL
                          GROUP BY person_id HAVING count(*) >= 3 ORDER BY person_id LIMIT 1""",
    )
    source, sid = _pick_record(url, pid)
    with connect(url) as conn:
        moved = unmerge(conn, pid, source, sid)
    world["unmerged"] = (source, sid, moved["new_id"], pid)
    _touch(url, [(source, sid)])
    stats = reconcile(url)
    assert stats["persons"]["refused_by_steward"] >= 1  # its identifiers still point at the old person
    assert _links(url)[(source, sid)] == moved["new_id"], "an unmerged record went back to the person it left"


def test_an_accepted_review_survives_later_runs(world: dict[str, Any]) -> None:
    url = world["url"]
    lonely = _scalar(
        url,
        """SELECT person_id FROM entity_link WHERE record_kind = 'person' AND valid_to IS NULL
                             GROUP BY person_id HAVING count(*) = 1 ORDER BY person_id LIMIT 1""",
    )
    source, sid = _pick_record(url, lonely)
    target = _scalar(
        url,
        """SELECT person_id FROM entity_link WHERE record_kind = 'person' AND valid_to IS NULL
                             AND person_id <> %s GROUP BY person_id HAVING count(*) >= 2
                             ORDER BY person_id DESC LIMIT 1""",
        lonely,
    )
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO review_item (entity_kind, source_code, source_record_id, candidate_id, score)
                       VALUES ('person', %s, %s, %s, 5.0) RETURNING review_id""",
            (source, sid, target),
        )
        review_id = cur.fetchone()[0]
    with connect(url) as conn:
        decide_review(conn, review_id, accept=True)
    assert _scalar(url, "SELECT replaced_by FROM registry_person WHERE registry_id = %s", lonely) == target
    _touch(url, [(source, sid)])
    reconcile(url)
    assert _links(url)[(source, sid)] == target, "an accepted review was undone"


def _pick_record(url: str, pid: str, skip: str | None = None) -> tuple[str, str]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT source_code, source_record_id FROM entity_link WHERE person_id = %s AND valid_to IS NULL
                       AND source_record_id <> coalesce(%s, '')
                       ORDER BY source_code, source_record_id LIMIT 1""",
            (pid, skip),
        )
        row = cur.fetchone()
    return str(row[0]), str(row[1])


def _touch(url: str, keys: list[tuple[str, str]]) -> None:
    """Make records pending again, as if their agency had sent a new version."""
    with connect(url) as conn, conn.cursor() as cur:
        for source, sid in keys:
            cur.execute(
                """UPDATE staged_reconcile SET run_id = NULL WHERE staged_id IN (
                       SELECT staged_id FROM staged_record WHERE source_code = %s
                       AND source_record_id = %s AND record_kind = 'person' AND superseded_by IS NULL)""",
                (source, sid),
            )


def test_night_two_keeps_ids_and_stays_accurate(world: dict[str, Any]) -> None:
    url, sandbox = world["url"], world["sandbox"]
    before = _links(url)
    advance(sandbox)
    stats = _night(url)
    assert stats["persons"]["records"] < len(before) / 2, "night 2 must reconcile only what changed"
    after = _links(url)
    for key, registry_id in before.items():
        if key not in after:
            continue  # the agency deleted the record
        now = after[key]
        if now != registry_id:  # only a merge may move a record, and the old id then says where it went
            assert (
                _scalar(url, "SELECT replaced_by FROM registry_person WHERE registry_id = %s", registry_id)
                == now
            )
    source, sid, new_id, _ = world["unmerged"]
    assert after.get((source, sid), new_id) == new_id
    scores = evaluate(sandbox, url)
    assert scores["persons"]["precision"] >= 0.995, scores["persons"]
    assert scores["persons"]["recall"] >= 0.99, scores["persons"]
