"""How far tonight's person records are from the records the model was fitted on.

A model's weights hold for data like its training data. What changes a model's footing most — an agency
that stops sending birth dates, a new source without SNILS, a register where every given name is missing —
shows as a column *present* in a different share of the records. So a fit keeps a *profile* (the share of
records carrying each model column, ``person-vN.profile.json`` beside the model), each night counts the
same over its person records. A drift warning (counts and shares only, never a value), on nights of at
least ``drift_min_records`` records, is a column
- whose share fell by ``drift_share`` or more: evidence the weights count on is missing; or
- in under 5 % of the training records but in ``drift_share`` or more tonight: evidence the model never
  learned to weigh.
A column merely *more* common tonight is no warning: an incremental night is the changed records, and
movers carry addresses more often than the registry does (a sandbox night 2: postcodes 79 % vs 46 %).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from matching.config import MatchingConfig
from matching.model import COLUMNS

PROFILED = tuple(c for c in COLUMNS if c not in ("unique_id", "source", "birth_date_swap", "birth_year"))
"""The model's columns whose presence is profiled (derived ones follow their base column)."""
_PREFIX = "present:"


def present_counts(rows: Iterable[dict[str, Any]]) -> dict[str, int]:
    """``{"present:<column>": records carrying it, "present:records": records}`` (summed across batches)."""
    counts = dict.fromkeys((_PREFIX + c for c in (*PROFILED, "records")), 0)
    for row in rows:
        counts[_PREFIX + "records"] += 1
        for column in PROFILED:
            if row.get(column) is not None:
                counts[_PREFIX + column] += 1
    return counts


def profile(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The training records' profile: their number and the share carrying each profiled column."""
    counts = present_counts(rows)
    records = counts[_PREFIX + "records"]
    return {"records": records,
            "present": {c: round(counts[_PREFIX + c] / records, 4) if records else 0.0 for c in PROFILED}}


def take_counts(extra: dict[str, Any]) -> dict[str, int]:
    """Remove the presence counts from a night's person stats (they are not a stat) and return them."""
    return {k[len(_PREFIX):]: extra.pop(k) for k in [k for k in extra if k.startswith(_PREFIX)]}


def drift(
    model_profile: dict[str, Any] | None, counts: dict[str, int], cfg: MatchingConfig
) -> list[dict[str, Any]]:
    """Columns whose share tonight is ``drift_share`` or more away from the model's (``[]`` when the model
    has no profile or tonight has fewer than ``drift_min_records`` person records)."""
    records = counts.get("records", 0)
    if not model_profile or records < cfg.drift_min_records:
        return []
    out = []
    for column, fitted in model_profile.get("present", {}).items():
        tonight = counts.get(column, 0) / records
        gone = tonight <= fitted - cfg.drift_share  # evidence the weights count on is missing
        unlearnt = fitted < _UNLEARNT <= cfg.drift_share <= tonight  # evidence the model never learned
        if gone or unlearnt:
            out.append({"column": column, "model": fitted, "tonight": round(tonight, 4)})
    return out


_UNLEARNT = 0.05
"""A column in fewer training records than this taught the model next to nothing of its levels."""


def describe(found: list[dict[str, Any]]) -> str:
    """One sentence for the log and the CLI."""
    parts = ", ".join(f"{d['column']} present in {d['tonight']:.0%} (model {d['model']:.0%})" for d in found)
    return f"tonight's person records differ from the model's training records: {parts}; " \
           "consider hub matching train"
