"""``hub matching train``: fit the person model on the registry's staged persons; write the next version.

Run it when the agencies or their noise change, not every night: the nights load the committed model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matching.features import person_features
from matching.model import save_model, train
from matching.store import current_records
from registry.db import connect
from schemas import Person


def training_rows(url: str | None = None) -> list[dict[str, Any]]:
    """Features of every current staged person record."""
    with connect(url) as conn:
        rows = current_records(conn, ["person"])
    return [person_features(r.key, r.source, Person.model_validate(r.canonical)) for r in rows]


def train_and_save(url: str | None = None, max_pairs: float = 2e6) -> tuple[Path, int]:
    """Train on the staged persons; return (model path, records used)."""
    rows = training_rows(url)
    if len(rows) < 100:
        raise ValueError(f"only {len(rows)} staged persons: pull more data before training")
    return save_model(train(rows, max_pairs=max_pairs)), len(rows)
