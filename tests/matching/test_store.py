"""Store functions on a real registry: what they report matches what they wrote."""

from __future__ import annotations

from matching import store
from registry import migrate
from registry.db import connect
from registry.runs import ensure_source_system, start_run


def test_open_reviews_counts_every_item_it_queued_not_the_last_page(empty_database_url: str) -> None:
    with connect(empty_database_url) as conn:
        migrate.upgrade(conn)
    with connect(empty_database_url) as conn:
        ensure_source_system(conn, "rv", "ngo", "review count", "rest_cursor")
        run_id = start_run(conn, "reconcile", None)
        rows = [{"source": "rv", "source_record_id": f"r{i}", "candidate_id": f"P{i:09d}", "score": 5.0,
                 "explanation": {}, "model_version": "person-v1"} for i in range(250)]
        assert store.open_reviews(conn, rows, run_id) == 250
        assert store.open_reviews(conn, rows, run_id) == 0  # already open: queued once
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM review_item WHERE status = 'open'")
            assert cur.fetchone() == (250,)
