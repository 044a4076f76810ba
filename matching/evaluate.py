"""Accuracy against the sandbox's ground truth (benchmarks and tests only — the hub never reads truth).

Person pairs: two source records are a true pair when the truth gives them the same person, a predicted
pair when the registry links them to the same registry id. Family clusters: two true persons are in one
true family when the truth's current family is the same, predicted when the registry's membership puts
them in the same registry family.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from registry.db import connect


def load_truth(sandbox: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(source, source record id) → truth row, the latest night winning."""
    truth: dict[tuple[str, str], dict[str, Any]] = {}
    for night in sorted((sandbox / "truth").glob("night-*")):
        for path in sorted(night.glob("records-*.jsonl")):
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    row = json.loads(line)
                    truth[(row["source"], row["source_record_id"])] = row
    return truth


def _pairs(groups: Counter[Any]) -> int:
    return sum(n * (n - 1) // 2 for n in groups.values())


def pair_scores(assigned: dict[Any, str], true: dict[Any, str]) -> dict[str, float]:
    """Pairwise precision, recall and F1 of ``assigned`` clusters against ``true`` clusters."""
    keys = [k for k in assigned if k in true]
    predicted = _pairs(Counter(assigned[k] for k in keys))
    actual = _pairs(Counter(true[k] for k in keys))
    both = _pairs(Counter((assigned[k], true[k]) for k in keys))
    precision = both / predicted if predicted else 1.0
    recall = both / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "records": len(keys),
        "true_pairs": actual,
        "predicted_pairs": predicted,
        "correct_pairs": both,
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
    }


def evaluate(sandbox: Path, url: str | None = None) -> dict[str, Any]:
    """Person-pair and family-cluster scores of the registry at ``url`` against ``sandbox``'s truth."""
    truth = load_truth(sandbox)
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT source_code, source_record_id, person_id FROM entity_link
                       WHERE record_kind = 'person' AND valid_to IS NULL""")
        linked = {(s, i): str(p) for s, i, p in cur.fetchall()}
        cur.execute("SELECT person_id, family_id FROM membership WHERE period_to IS NULL")
        families: dict[str, set[str]] = defaultdict(set)
        for person, family in cur.fetchall():
            families[str(person)].add(str(family))
    people = {k: row for k, row in truth.items() if row["kind"] == "person" and k in linked}
    persons: dict[str, Any] = {
        **pair_scores({k: linked[k] for k in people}, {k: row["pid"] for k, row in people.items()}),
        "missed_by_noise": missed_by_noise(people, linked),
    }
    return {"persons": persons, "families": _family_scores(people, linked, families)}


def missed_by_noise(people: dict[tuple[str, str], dict[str, Any]], linked: dict[tuple[str, str], str],
                    top: int = 12) -> dict[str, int]:
    """Missed true pairs counted by the noise the generator put on either record ("+"-joined, or "none"):
    where the remaining recall goes, so a fix can aim at it."""
    by_person: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, row in people.items():
        by_person[row["pid"]].append(key)
    counts: Counter[str] = Counter()
    for keys in by_person.values():
        if len({linked[k] for k in keys}) < 2:
            continue
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                if linked[a] != linked[b]:
                    tags = sorted(set(people[a].get("noise") or ()) | set(people[b].get("noise") or ()))
                    counts["+".join(tags) or "none"] += 1
    return dict(counts.most_common(top))


def _family_scores(
    people: dict[tuple[str, str], dict[str, Any]],
    linked: dict[tuple[str, str], str],
    families: dict[str, set[str]],
) -> dict[str, float]:
    true_family: dict[str, str] = {}
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for key, row in people.items():
        true_family[row["pid"]] = row["fid"]
        for family in families.get(linked[key], ()):
            votes[row["pid"]][family] += 1
    assigned = {pid: c.most_common(1)[0][0] for pid, c in votes.items() if c}
    return pair_scores(assigned, true_family)
