"""What the person model is and what its thresholds mean on the registry it serves (``hub matching report``).

* **Parameters**: per comparison level its m and u probabilities and match weight ``log2(m/u)``; the prior
  (``probability_two_random_records_match``) as a weight too — Splink's match-weights and m/u charts.
* **Thresholds as probabilities**: a match weight ``w`` is the probability ``1 / (1 + 2^-w)``.
* **Expected precision and recall** at each threshold, from the model itself (no labels): every blocked pair
  of the registry's stored person features is scored; a pair of probability ``p`` is a true match ``p`` times
  in expectation, so above a threshold the expected precision is the mean ``p`` and the expected recall is
  the sum of ``p`` above it over the sum of ``p`` of every scored pair. Pairs the blocking rules never
  compare are not counted, so the recall is an upper bound; a wrong model is confidently wrong here too —
  the benchmark with ground truth (``hub bench match``) stays the judge.
"""

from __future__ import annotations

import math
from typing import Any

from matching.config import MatchingConfig
from matching.model import score

# The lowest weight scored for the expectations: pairs below it add almost nothing to the sum of p
# (2^-6 ≈ 1.5 % each) and would multiply the pairs to score.
SCORING_FLOOR = -6.0


def probability(weight: float) -> float:
    return 1.0 / (1.0 + math.pow(2.0, -weight))


def weight_of(m: float | None, u: float | None) -> float | None:
    if not m or not u:
        return None
    return round(math.log2(m / u), 3)


def parameters(model: dict[str, Any]) -> dict[str, Any]:
    """The prior and every comparison's levels with m, u and match weight (the null level has none)."""
    prior = float(model["probability_two_random_records_match"])
    comparisons = []
    for comp in model["comparisons"]:
        levels = []
        for lv in comp["comparison_levels"]:
            if lv.get("is_null_level"):
                continue
            m, u = lv.get("m_probability"), lv.get("u_probability")
            levels.append({"label": str(lv.get("label_for_charts")), "m": m, "u": u,
                           "weight": weight_of(m, u)})
        comparisons.append({"name": comp["output_column_name"],
                            "description": comp.get("comparison_description"), "levels": levels})
    return {"prior": prior, "prior_weight": round(math.log2(prior / (1 - prior)), 3),
            "comparisons": comparisons}


def thresholds(cfg: MatchingConfig) -> list[dict[str, Any]]:
    named = (("review_weight", "в очередь на проверку"),
             ("family_support_weight", "связь при поддержке семьи"),
             ("auto_link_weight", "автоматическая связь"))
    return [{"name": key, "meaning": meaning, "weight": getattr(cfg, key),
             "probability": round(probability(getattr(cfg, key)), 6)} for key, meaning in named]


def expected_quality(model: dict[str, Any], features: list[dict[str, Any]], cfg: MatchingConfig
                     ) -> dict[str, Any]:
    """Scored pairs of the stored features, and per threshold the expected precision and recall."""
    pairs = score(model, features, [], SCORING_FLOOR) if len(features) > 1 else []
    probs = [float(p["match_probability"]) for p in pairs]
    weights = [float(p["match_weight"]) for p in pairs]
    total = sum(probs)
    out = []
    for t in thresholds(cfg):
        above = [p for p, w in zip(probs, weights, strict=True) if w >= t["weight"]]
        out.append({**t, "pairs": len(above),
                    "expected_precision": round(sum(above) / len(above), 5) if above else None,
                    "expected_recall": round(sum(above) / total, 5) if total else None})
    histogram = [0] * 12
    for w in weights:
        histogram[min(11, max(0, int((w - SCORING_FLOOR) // 2)))] += 1
    return {"records": len(features), "scored_pairs": len(pairs), "expected_matches": round(total, 1),
            "thresholds": out,
            "weight_histogram": {f"{SCORING_FLOOR + 2 * i:+.0f}": n for i, n in enumerate(histogram)}}


def build(conn: Any) -> dict[str, Any]:
    """The newest model's report over the registry behind ``conn``."""
    from matching.config import load_config
    from matching.model import latest_model
    from matching.store import existing_features

    version, model = latest_model()
    features, _ = existing_features(conn)
    return {"version": version, "parameters": parameters(model),
            "quality": expected_quality(model, features, load_config())}
