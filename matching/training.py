"""``hub matching train``: fit the person model on the registry's staged persons; write the next version.

Run it when the agencies or their noise change, or when a night warns of drift (``matching.drift``), not
every night: the nights load the newest model. The first reconcile of a registry with no fitted model fits
one itself (``fit_if_unfitted``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from matching.config import MatchingConfig, load_config
from matching.drift import profile
from matching.errors import TrainingError
from matching.feature_pool import features_of
from matching.labels import apply_labels, label_check, steward_labels
from matching.model import fitted_versions, floor_probabilities, save_model, train
from matching.standardize import shared_declarations
from matching.store import current_records
from registry.db import connect
from schemas.settings import settings as hub_settings

log = logging.getLogger("hub.matching.training")


def training_rows(url: str | None = None) -> list[dict[str, Any]]:
    """Features of every current staged person record."""
    with connect(url) as conn:
        rows = current_records(conn, ["person"])
    features, _ = features_of([(r.key, r.source, r.canonical) for r in rows], shared_declarations())
    return features


def train_and_save(
    url: str | None = None, max_pairs: float = 2e6, rows: list[dict[str, Any]] | None = None,
    labels: bool = False, cfg: MatchingConfig | None = None,
) -> tuple[Path, int, dict[str, Any] | None]:
    """Train on the staged persons (or ``rows``, their features), with ``labels`` the stewards' decisions
    moving m (``matching.labels``); save the model and its profile; return (model path, records used,
    what the labels did or None)."""
    rows = training_rows(url) if rows is None else rows
    if len(rows) < 100:
        raise TrainingError(f"only {len(rows)} staged persons: pull more data before training")
    model = train(rows, max_pairs=max_pairs)
    used_labels = None
    if labels:
        model, used_labels = _with_labels(url, model, cfg or load_config())
    return save_model(model, profile(rows)), len(rows), used_labels


def _with_labels(
    url: str | None, model: dict[str, Any], cfg: MatchingConfig
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The unlabelled fit moved by the stewards' decisions, and how it and the labelled fit decide them."""
    with connect(url) as conn:
        found = steward_labels(conn, cfg.label_pairs_per_decision)
    # Labels lower the m of levels they do not reach; the floors hold for the labelled fit too.
    labelled = floor_probabilities(apply_labels(model, found, cfg.label_prior_pairs))
    summary = {"pairs": len(found), "matches": sum(lb.match for lb in found),
               "non_matches": sum(not lb.match for lb in found),
               "unlabelled_fit": label_check(model, found, cfg),
               "labelled_fit": label_check(labelled, found, cfg)}
    return labelled, summary


def fit_if_unfitted(url: str, cfg: MatchingConfig) -> dict[str, Any] | None:
    """The first reconcile of a registry with no fitted model: fit one on its staged persons and say so.

    Only with ``HUB_MODELS_DIR`` (a fit never writes into the shipped models) holding no fitted model, and
    ``fit_on_first_reconcile``; with fewer than ``fit_min_records`` staged persons the shipped model runs
    and the answer says why. None: nothing to say (fitting is off, or a fitted model exists)."""
    if not cfg.fit_on_first_reconcile or hub_settings().models_dir is None or fitted_versions():
        return None
    started = time.monotonic()
    rows = training_rows(url)
    if len(rows) < cfg.fit_min_records:
        return {"fitted": False, "records": len(rows),
                "why": f"fewer staged persons than fit_min_records ({cfg.fit_min_records})"}
    path, used, _ = train_and_save(url, rows=rows)
    log.info("no model was fitted on this registry: fitted %s on %d staged persons", path.stem, used)
    return {"fitted": True, "model": path.stem, "records": used,
            "seconds": round(time.monotonic() - started, 2)}
