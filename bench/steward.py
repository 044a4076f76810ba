"""A steward who knows the truth works the review queue: how many reviews it takes to reach a recall target.

Benchmarks only (the hub never reads truth). The steward takes open reviews in the queue's order (strongest
first, as ``hub review list`` and the web queue show them) and accepts a review when the truth puts the
record and most of the candidate person's records in one person, else rejects it; the registry's recall is
measured every ``step`` decisions. Then ``hub matching train --labels`` can learn from the decisions.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from matching.errors import StewardError
from matching.evaluate import evaluate, load_truth
from matching.steward import decide_review, list_reviews
from registry.db import connect


def _records_of(url: str, person: str) -> list[tuple[str, str]]:
    """The source records linked to ``person`` now (an earlier decision may have moved some)."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT source_code, source_record_id FROM entity_link
                       WHERE record_kind = 'person' AND valid_to IS NULL AND person_id = %s""", (person,))
        return [(str(s), str(i)) for s, i in cur.fetchall()]


def _truly_one(truth: dict[tuple[str, str], dict[str, Any]], record: tuple[str, str],
               others: list[tuple[str, str]]) -> bool:
    pids = Counter(truth[o]["pid"] for o in others if o in truth)
    mine = truth.get(record, {}).get("pid")
    return bool(pids) and mine is not None and pids.most_common(1)[0][0] == mine


def work_the_queue(url: str, sandbox: Path, target: float, step: int = 10,
                   limit: int = 2000) -> dict[str, Any]:
    """Decide up to ``limit`` open reviews; the recall curve and the reviews it took to reach ``target``."""
    truth = load_truth(sandbox)
    start = evaluate(sandbox, url)["persons"]
    curve = [{"reviews": 0, "recall": start["recall"], "precision": start["precision"]}]
    decided, accepted, skipped = 0, 0, 0
    with connect(url) as conn:
        queue = list_reviews(conn, "open", limit)
    for item in queue:
        record = (item["source"], item["source_record_id"])
        others = [o for o in _records_of(url, str(item["candidate_id"])) if o != record]
        if not others:  # the candidate was merged away by an earlier decision: nothing left to decide
            skipped += 1
            continue
        accept = _truly_one(truth, record, others)
        try:
            with connect(url) as conn:
                decide_review(conn, item["review_id"], accept=accept, who="bench-oracle")
        except StewardError:
            skipped += 1
            continue
        decided += 1
        accepted += accept
        if decided % step == 0:
            now = evaluate(sandbox, url)["persons"]
            curve.append({"reviews": decided, "recall": now["recall"], "precision": now["precision"]})
    end = evaluate(sandbox, url)["persons"]
    if curve[-1]["reviews"] != decided:
        curve.append({"reviews": decided, "recall": end["recall"], "precision": end["precision"]})
    reached = next((p["reviews"] for p in curve if p["recall"] >= target), None)
    return {"queue": len(queue), "decided": decided, "accepted": accepted, "skipped": skipped,
            "target_recall": target, "reviews_to_target": reached, "curve": curve, "accuracy": end}
