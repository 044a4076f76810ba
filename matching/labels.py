"""Stewards' decisions as training labels: ``hub matching train --labels``.

An accepted review (a ``link`` decision) says a record and the records of the person it was linked to are
one person; a rejected review or an unmerge (``never_link``) says they are not. Each decision gives up to
``label_pairs_per_decision`` record pairs, so one large golden person does not outweigh the rest.

Matching pairs move m. For each comparison, m over its non-null levels is a Dirichlet posterior: the
unlabelled fit's m is the prior, worth ``label_prior_pairs`` pairs, and every labelled matching pair adds
one to the level it falls in. A steward's queue holds the pairs the model was unsure of, so labels shift
m towards the disagreements true pairs show (another address, a typo in the number) without letting a few
dozen hard cases replace what EM learnt from thousands of pairs.

Non-matching pairs do not move u: u is what random pairs show, and a rejected pair was put in front of a
steward because it looked alike. They check the fit instead: the answer says how many labelled pairs of
each kind the new model links automatically, queues or keeps apart, so a fit that would link what a
steward rejected is seen before it is used (and a decision is honoured by every reconcile either way).
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from splink import DuckDBAPI, Linker

from matching.config import MatchingConfig
from matching.model import complete
from matching.store import Conn, steward_decisions
from registry.match_person import features_of, records_of


@dataclass(frozen=True)
class Label:
    """Two stored person records (feature rows) and whether a steward said they are one person."""

    left: dict[str, Any]
    right: dict[str, Any]
    match: bool


def steward_labels(conn: Conn, per_decision: int = 3) -> list[Label]:
    """Record pairs from the latest steward decision per (record, registry person)."""
    never, link = steward_decisions(conn)
    decided = [(key, rid, True) for key, rid in link] + [(key, rid, False) for key, rid in sorted(never)]
    members: dict[str, list[str]] = defaultdict(list)
    for key, rid in sorted(records_of(conn, {rid for _, rid, _ in decided}).items()):
        members[rid].append(key)
    pairs = [(key, other, match) for key, rid, match in decided
             for other in [o for o in members.get(rid, []) if o != key][:per_decision]]
    features = features_of(conn, {k for a, b, _ in pairs for k in (a, b)})
    return [Label(features[a], features[b], match) for a, b, match in pairs
            if a in features and b in features]


def _pair_scores(model: dict[str, Any], labels: list[Label]) -> list[dict[str, Any]]:
    """Splink's scored comparison of each labelled pair (gammas, match weight), in ``labels`` order."""
    rows = []
    for i, label in enumerate(labels):
        rows += [{**label.left, "unique_id": f"{i}:l", "label_pair": i},
                 {**label.right, "unique_id": f"{i}:r", "label_pair": i}]
    settings = copy.deepcopy(model)
    # Block on the pair itself: every labelled pair is compared, whatever the model's blocking rules.
    settings["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": "l.label_pair = r.label_pair", "sql_dialect": "duckdb"}]
    settings["additional_columns_to_retain"] = [*settings.get("additional_columns_to_retain", []),
                                                "label_pair"]
    db = DuckDBAPI()
    linker = Linker(db.register(complete(rows)), settings, log_level="WARNING")
    pairs = linker.inference.predict(warning_mode="never").as_record_list()
    scored = {int(r["label_pair_l"]): r for r in pairs}
    return [scored[i] for i in range(len(labels))]


def apply_labels(model: dict[str, Any], labels: list[Label], prior_pairs: float) -> dict[str, Any]:
    """``model`` with every comparison's m moved by the labelled matching pairs (a new dict)."""
    matches = [label for label in labels if label.match]
    out = copy.deepcopy(model)
    if not matches:
        return out
    scored = _pair_scores(model, matches)
    for comparison in out["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        counts = [0] * len(levels)
        for pair in scored:
            gamma = pair.get(f"gamma_{comparison['output_column_name']}")
            if gamma is not None and int(gamma) >= 0:
                counts[len(levels) - 1 - int(gamma)] += 1  # Splink numbers levels from the else level (0) up
        seen = sum(counts)
        if not seen:
            continue
        total_m = sum(float(lv["m_probability"]) for lv in levels)
        for level, count in zip(levels, counts, strict=True):
            prior = float(level["m_probability"]) / total_m
            level["m_probability"] = (prior_pairs * prior + count) / (prior_pairs + seen)
    return out


def label_check(model: dict[str, Any], labels: list[Label], cfg: MatchingConfig) -> dict[str, dict[str, int]]:
    """How ``model`` decides the labelled pairs: {"matches"|"non_matches": {linked, review, apart}}."""
    out = {kind: {"linked": 0, "review": 0, "apart": 0} for kind in ("matches", "non_matches")}
    if not labels:
        return out
    for label, pair in zip(labels, _pair_scores(model, labels), strict=True):
        weight = float(pair["match_weight"])
        band = ("linked" if weight >= cfg.auto_link_weight else "review" if weight >= cfg.review_weight
                else "apart")
        out["matches" if label.match else "non_matches"][band] += 1
    return out
