"""The comparison level the newest model puts a pair of feature rows at (by its label)."""

from __future__ import annotations

from typing import Any

from matching.model import latest_model, score


def level_of(a: dict[str, Any], b: dict[str, Any], comparison: str) -> str:
    """The label of the level of ``comparison`` for the pair (a, b); ``"null"`` for the null level."""
    _, model = latest_model()
    [pair] = score(model, [a, b], [], -1e9)
    levels = next(c for c in model["comparisons"] if c["output_column_name"] == comparison)
    non_null = [lv for lv in levels["comparison_levels"] if not lv.get("is_null_level")]
    gamma = pair[f"gamma_{comparison}"]  # Splink numbers levels from the last (0) up; -1 is null
    return "null" if gamma == -1 else str(non_null[len(non_null) - 1 - gamma]["label_for_charts"])
