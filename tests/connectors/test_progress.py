"""A long pull says how far it is: a callback after every payload, counts in the log (no values)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import connectors.pipeline as pipeline
from tests.sources import MakeSource


def test_progress_after_every_payload_and_in_the_log(make_source: MakeSource, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    for n in range(3):
        page = {"data": [{"id": f"x{n}", "last_name": "Карамзина", "first_name": "Анна",
                          "birth_date": "2015-03-04"}], "next_cursor": None}
        (folder / f"page{n}.json").write_text(json.dumps(page, ensure_ascii=False), "utf-8")
    connection = {"conn_type": "fs", "extra": {"path": str(folder)}}
    source = make_source("file_drop", "mappings/ngo.yaml", connection, options={"patterns": ["*.json"]})
    monkeypatch.setattr(pipeline, "PROGRESS_EVERY", 0.0)
    seen: list[int] = []
    with caplog.at_level(logging.INFO, logger="hub.pull"):
        pipeline.Puller(source.config, source.url, progress=lambda s: seen.append(s.payloads)).run()
    assert seen == [1, 2, 3]
    lines = [r.getMessage() for r in caplog.records if "so far" in r.getMessage()]
    assert len(lines) == 3
    assert "3 payloads, 3 records" in lines[-1]
    assert not any("Карамзина" in line for line in lines)
