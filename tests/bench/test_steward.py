"""The bench's truth-knowing steward: accepts what the truth joins, rejects the rest, counts the reviews."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.steward import work_the_queue
from matching.evaluate import evaluate
from matching.reconcile import reconcile
from matching.steward import unmerge
from registry.db import connect
from tests.matching.test_labels import _persons_with_records
from tests.worlds import pull_all, sandbox_region


def _queue(url: str, record: tuple[str, str], candidate: str) -> None:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""INSERT INTO review_item (entity_kind, source_code, source_record_id, candidate_id,
                                               score) VALUES ('person', %s, %s, %s, 5.0)""",
                    (*record, candidate))


def test_the_oracle_steward_works_the_queue(tmp_path: Path, pg_server_url: str) -> None:
    sandbox = tmp_path / "sbx"
    with sandbox_region(pg_server_url, sandbox, 30, seed=91, prefix="hub_oracle") as url:
        pull_all(url)
        reconcile(url)
        before = evaluate(sandbox, url)["persons"]["recall"]
        (pid, records), (other_pid, _) = _persons_with_records(url, 2)[:2]
        with connect(url) as conn:
            unmerge(conn, pid, *records[0])
        assert evaluate(sandbox, url)["persons"]["recall"] < before
        _queue(url, records[0], other_pid)  # a wrong candidate: the truth keeps them apart
        _queue(url, records[0], pid)  # its own person
        out = work_the_queue(url, sandbox, target=before, step=1)
    assert (out["decided"], out["accepted"]) == (2, 1)
    assert out["accuracy"]["recall"] == pytest.approx(before)
    # The queue's order (equal scores: oldest first): the rejection, then the accept that restores recall.
    assert out["reviews_to_target"] == 2
    assert [p["reviews"] for p in out["curve"]] == [0, 1, 2]
