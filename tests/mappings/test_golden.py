"""Golden tests for every mapping: a sample payload in, canonical JSON out.

Samples live in ``tests/mappings/golden/<mapping>/<name>.<json|xml>`` beside ``<name>.expected.json``.
After a deliberate mapping change, regenerate with ``HUB_UPDATE_GOLDEN=1 pytest tests/mappings`` and review
the diff like code: the expected files are the contract with the agency.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from connectors.config import source_for_mapping
from mapper import load_mapping
from mapper.sample import run_sample, schema_lookup

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
SAMPLES = sorted(p for p in GOLDEN.glob("*/*") if p.suffix in (".json", ".xml")
                 and not p.name.endswith(".expected.json"))


def _mapping_file(sample: Path) -> Path:
    return ROOT / "mappings" / f"{sample.parent.name}.yaml"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_maps_to_its_golden_output(sample: Path) -> None:
    mapping = load_mapping(_mapping_file(sample))
    source = source_for_mapping(mapping.source)
    schema_for = schema_lookup(source.xsd_paths()) if source and source.xsd else None
    strict = source.validation == "strict" if source else True
    actual = run_sample(mapping, sample, schema_for, strict)
    expected_path = sample.with_name(sample.stem + ".expected.json")
    if os.environ.get("HUB_UPDATE_GOLDEN"):
        expected_path.write_text(json.dumps(actual, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    expected = json.loads(expected_path.read_text("utf-8"))
    assert actual == expected


def test_every_mapping_has_golden_samples() -> None:
    mappings = {p.stem for p in (ROOT / "mappings").glob("*.yaml")}
    covered = {s.parent.name for s in SAMPLES}
    assert mappings <= covered, f"mappings without golden samples: {sorted(mappings - covered)}"


@pytest.mark.parametrize("mapping_file", sorted((ROOT / "mappings").glob("*.yaml")), ids=lambda p: p.name)
def test_every_mapping_loads_and_names_a_configured_source(mapping_file: Path) -> None:
    mapping = load_mapping(mapping_file)
    assert source_for_mapping(mapping.source) is not None, f"{mapping.source} is not in config/sources.yaml"
