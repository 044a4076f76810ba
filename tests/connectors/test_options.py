"""Typed connector options: a typo or a wrong type in config/sources.yaml is an error naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from connectors.config import SourceConfig
from connectors.fhir.settings import FhirOptions

ROOT = Path(__file__).resolve().parents[2]
BASE = {"agency": "ngo", "name": "t", "connection_id": "t", "mapping": "mappings/ngo.yaml"}


@pytest.mark.parametrize(("connector", "options", "named"), [
    ("file_drop", {"pattern": ["*.xml"]}, "options.pattern"),
    ("file_drop", {"after": "delete"}, "options.after"),
    ("rest_cursor", {"endpoints": ["/a"], "page_sise": 10}, "options.page_sise"),
    ("rest_cursor", {}, "options.endpoints"),
    ("fhir", {"page_size": "many"}, "options.page_size"),
    ("smev", {"max_messages": 0}, "options.max_messages"),
])
def test_a_wrong_option_is_refused_by_name(connector: str, options: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        SourceConfig.model_validate({**BASE, "connector": connector, "options": options})


def test_defaults_come_from_the_connectors_settings() -> None:
    source = SourceConfig.model_validate({**BASE, "connector": "fhir", "options": {"page_size": 50}})
    assert isinstance(source.typed_options, FhirOptions)
    assert source.typed_options.page_size == 50
    assert source.typed_options.resources == ["Patient", "RelatedPerson", "Condition", "Procedure"]


def test_the_cli_names_the_file_source_and_option(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    entry = {**BASE, "connector": "rest_cursor", "options": {"endpoints": ["/a"], "page_sise": 10}}
    path.write_text(yaml.safe_dump({"sources": {"typo": entry}}), "utf-8")
    done = subprocess.run([sys.executable, "-m", "hub", "pull", "typo"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env={**os.environ, "HUB_SOURCES": str(path)}, check=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error:")
    assert "typo" in lines[0]
    assert "page_sise" in lines[0]


@pytest.mark.parametrize(("uri", "folder"), [("fs:///srv/drops/district", "/srv/drops/district"),
                                             ("fs://srv/drops", "/srv/drops")])
def test_an_fs_uri_names_an_absolute_folder(uri: str, folder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from connectors.pipeline import build_connector

    monkeypatch.setenv("AIRFLOW_CONN_URI_DROP", uri)
    source = SourceConfig.model_validate({**BASE, "connector": "file_drop", "connection_id": "uri_drop"})
    assert str(build_connector(source).folder) == folder  # type: ignore[attr-defined]
