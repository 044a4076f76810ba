"""Matching thresholds from ``config/matching.yaml`` (documented there)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

CONFIG_PATH = Path(__file__).resolve().parents[1] / "config" / "matching.yaml"


class MatchingConfig(BaseModel):
    """Where the match weights are cut."""

    model_config = ConfigDict(extra="forbid")

    auto_link_weight: float = 12.0
    review_weight: float = 4.0
    family_support_weight: float = 6.0
    role_support_weight: float = -6.0
    max_records_per_identifier: int = 8
    person_batch: int = Field(default=50_000, ge=100)
    feature_workers: int = Field(default=2, ge=0, le=64)
    feature_pool_min_records: int = Field(default=20_000, ge=1)
    family_scope_share: float = Field(default=0.2, ge=0.0, le=1.0)
    fit_on_first_reconcile: bool = True
    fit_min_records: int = Field(default=1000, ge=100)
    drift_share: float = Field(default=0.3, gt=0.0, le=1.0)
    drift_min_records: int = Field(default=200, ge=1)
    label_prior_pairs: float = Field(default=200.0, gt=0.0)
    label_pairs_per_decision: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> MatchingConfig:
        if not self.review_weight <= self.family_support_weight <= self.auto_link_weight:
            raise ValueError("need review_weight <= family_support_weight <= auto_link_weight")
        if self.role_support_weight > self.family_support_weight:
            raise ValueError("need role_support_weight <= family_support_weight")
        return self


@lru_cache(maxsize=4)
def load_config(path: Path = CONFIG_PATH) -> MatchingConfig:
    return MatchingConfig.model_validate(yaml.safe_load(path.read_text("utf-8")) or {})
