"""``hub bench night`` on a small sandbox: one JSON per size with every stage, and the curve as a PNG."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path


def test_a_small_curve_has_every_stage_and_a_plot(
    tmp_path: Path, pg_server_url: str, hub_cli: list[str]
) -> None:
    out = tmp_path / "night.json"
    done = subprocess.run([*hub_cli, "bench", "night", "--records", "1500", "--server-url", pg_server_url,
                           "--out", str(out), "--json"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-500:]
    (size,) = json.loads(out.read_text("utf-8"))["sizes"]
    assert size["source_records"] > 1000
    assert 0 < size["changed_records_night_2"] < size["source_records"]
    for night in ("first_night", "incremental_night"):
        assert {"pull", "persons", "families", "care", "push"} <= set(size[night]["stages"])
        assert size[night]["persons"]["precision"] > 0.99
    assert size["splink_plain"]["seconds"] > 0
    assert size["peak_rss_mib"] > 100
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
