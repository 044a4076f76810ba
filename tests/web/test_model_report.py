"""``hub matching report`` and the steward's model page: parameters, thresholds as probabilities, expected
precision and recall over the registry."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

from matching.model import latest_model
from matching.model_report import build, parameters, probability
from registry.db import connect
from tests.web_world import Workspace


def test_level_weights_are_log2_m_over_u_and_the_prior_is_a_weight() -> None:
    _, model = latest_model()
    params = parameters(model)
    prior = model["probability_two_random_records_match"]
    assert math.isclose(2 ** params["prior_weight"], prior / (1 - prior), rel_tol=1e-3)
    levels = [lv for c in params["comparisons"] for lv in c["levels"]]
    assert len(levels) > 10
    for lv in levels:
        assert math.isclose(2 ** lv["weight"], lv["m"] / lv["u"], rel_tol=1e-3)
    assert probability(0.0) == 0.5
    assert math.isclose(probability(10.0), 1024 / 1025)


def test_expected_precision_and_recall_fall_and_rise_with_the_threshold(workspace: Workspace) -> None:
    with connect(workspace.database_url) as conn:
        q = build(conn)["quality"]
    review, support, auto = q["thresholds"]
    assert review["weight"] <= support["weight"] <= auto["weight"]
    assert review["pairs"] >= support["pairs"] >= auto["pairs"] > 0
    assert review["expected_recall"] >= support["expected_recall"] >= auto["expected_recall"]
    assert auto["expected_precision"] >= review["expected_precision"] > 0.9
    assert 0 < review["expected_recall"] <= 1
    assert sum(q["weight_histogram"].values()) == q["scored_pairs"]


def test_the_cli_writes_the_report(workspace: Workspace, tmp_path: Path, hub_cli: list[str]) -> None:
    out = tmp_path / "model.html"
    env = {**os.environ, "HUB_DATABASE_URL": workspace.database_url}
    done = subprocess.run([*hub_cli, "matching", "report", "--out", str(out), "--json"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    page = out.read_text("utf-8")
    for comparison in data["parameters"]["comparisons"]:
        assert f'data-comparison="{comparison["name"]}"' in page
    for t in data["quality"]["thresholds"]:
        assert f'data-threshold="{t["name"]}"' in page
    assert page.count('<img class="chart"') == 1 + 2 * len(data["parameters"]["comparisons"])


def test_the_steward_sees_the_model_and_a_manager_does_not(workspace: Workspace) -> None:
    assert workspace.session("steward").get(f"{workspace.base}/steward/model").status_code == 200
    assert workspace.session("manager").get(f"{workspace.base}/steward/model",
                                            allow_redirects=False).status_code == 403
