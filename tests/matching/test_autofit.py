"""A registry's own model: the first reconcile fits one when none is fitted; a night far from it warns.

Real sandbox agencies on loopback, a real registry; the fitted models go to a ``HUB_MODELS_DIR`` of the
test's own, so the shipped models are never touched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.commands.registry_cmd import _reconcile_text
from matching import drift
from matching.config import MatchingConfig, load_config
from matching.model import MODELS_DIR, latest_model
from matching.reconcile import reconcile
from registry.db import connect
from tests.worlds import pull_all, sandbox_region


def _config(**changes: Any) -> MatchingConfig:
    return load_config().model_copy(update=changes)


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str) -> Any:
    with sandbox_region(pg_server_url, tmp_path_factory.mktemp("fit") / "sbx", 40, seed=71,
                        prefix="hub_autofit") as url:
        pull_all(url)
        yield url


def test_the_first_reconcile_fits_a_model_and_says_so(
    region: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = sorted(p.name for p in MODELS_DIR.iterdir())
    models = tmp_path / "models"
    monkeypatch.setenv("HUB_MODELS_DIR", str(models))
    # Too few staged persons for the registry's threshold: the shipped model runs, and the answer says why.
    few = reconcile(region, config=_config(fit_min_records=100_000))
    assert few["model_fitted"]["fitted"] is False
    assert "fit_min_records" in few["model_fitted"]["why"]
    assert few["model_version"] == latest_model()[0]
    assert not models.exists() or not list(models.iterdir())
    first = reconcile(region, config=_config(fit_min_records=100))
    fitted = first["model_fitted"]
    assert fitted["fitted"] is True
    assert fitted["records"] >= 100
    assert first["model_version"] == fitted["model"]
    assert (models / f"{fitted['model']}.json").exists()
    profile = json.loads((models / f"{fitted['model']}.profile.json").read_text("utf-8"))
    assert profile["records"] == fitted["records"]
    assert 0.9 <= profile["present"]["birth_date"] <= 1.0
    assert f"fitted {fitted['model']}" in _reconcile_text(first)
    # A fitted model exists now: the next reconcile uses it and fits nothing.
    second = reconcile(region, config=_config(fit_min_records=100))
    assert second["model_fitted"] is None
    assert second["model_version"] == fitted["model"]
    assert sorted(p.name for p in MODELS_DIR.iterdir()) == shipped


def test_no_models_dir_no_fit(region: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without HUB_MODELS_DIR a reconcile never writes a model (the shipped folder is the code's)."""
    monkeypatch.delenv("HUB_MODELS_DIR", raising=False)
    shipped = sorted(p.name for p in MODELS_DIR.iterdir())
    stats = reconcile(region, config=_config(fit_min_records=100))
    assert stats["model_fitted"] is None
    assert sorted(p.name for p in MODELS_DIR.iterdir()) == shipped


def test_records_far_from_the_model_raise_a_drift_warning(
    region: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model whose training records all carried an OMS policy meets records that mostly do not: one
    warning naming the column and both shares, and the shares only."""
    _, model = latest_model()
    models = tmp_path / "models"
    models.mkdir()
    (models / "person-v90.json").write_text(json.dumps(model), "utf-8")
    profile = {"records": 10, "present": {"oms": 1.0, "birth_date": 0.97}}
    (models / "person-v90.profile.json").write_text(json.dumps(profile), "utf-8")
    monkeypatch.setenv("HUB_MODELS_DIR", str(models))
    _make_pending(region)
    stats = reconcile(region, config=_config(drift_share=0.3, drift_min_records=1))
    assert stats["model_version"] == "person-v90"
    [found] = stats["drift"]  # birth dates are as common as in training: no warning for them
    assert found["column"] == "oms"
    assert found["model"] == 1.0
    assert found["tonight"] <= 0.7
    assert not any(k.startswith("present:") for k in stats["persons"]["extra"])
    assert "drift: " in _reconcile_text(stats)
    assert "oms present in" in _reconcile_text(stats)


def test_drift_needs_enough_records_and_a_profile() -> None:
    cfg = _config(drift_share=0.3, drift_min_records=200)
    profile = {"records": 1000, "present": {"birth_date": 0.95, "snils": 0.6}}
    far = {"records": 400, "birth_date": 100, "snils": 230}
    assert drift.drift(profile, far, cfg) == [{"column": "birth_date", "model": 0.95, "tonight": 0.25}]
    assert drift.drift(profile, {**far, "records": 150}, cfg) == []
    assert drift.drift(None, far, cfg) == []
    near = {"records": 400, "birth_date": 300, "snils": 200}
    assert drift.drift(profile, near, cfg) == []
    more = {"records": 400, "birth_date": 400, "snils": 400}  # more common than in training: no warning
    assert drift.drift(profile, more, cfg) == []
    unlearnt = {"records": 400, "birth_date": 380, "snils": 240, "shared_number": 200}
    without = {**profile, "present": {**profile["present"], "shared_number": 0.0}}
    assert drift.drift(without, unlearnt, cfg) == [{"column": "shared_number", "model": 0.0, "tonight": 0.5}]


def test_a_profile_holds_shares_only() -> None:
    rows = [{"birth_date": "2015-01-01", "snils": None, "family_stem": "ИВАНОВ"},
            {"birth_date": None, "snils": "11223344595", "family_stem": "ПЕТРОВ"}]
    profile = drift.profile(rows)
    assert profile["records"] == 2
    assert profile["present"]["birth_date"] == 0.5
    assert set(json.dumps(profile)) <= set('{}[]":,. _-0123456789abcdefghijklmnopqrstuvwxyz')


def _make_pending(url: str) -> None:
    """Mark the region's staged person records pending again, so a reconcile meets them all."""
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("UPDATE staged_reconcile SET run_id = NULL WHERE staged_id IN "
                    "(SELECT staged_id FROM staged_record WHERE record_kind = 'person')")
