"""The health mapping against a whole generated night: every FHIR resource maps, ids match the truth.

The sandbox writes the health agency's resources as NDJSON; the FHIR connector hands the mapping searchset
Bundles, so each NDJSON file is wrapped into one Bundle here (the page size does not matter to the mapping).
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from mapper import load_mapping
from mapper.engine import MappedRecord
from mapper.readers import PayloadFailure, SourceRecord, read_json
from sandbox.formats.fhir import searchset_bundle
from sandbox.generate import generate
from schemas.care import DisabilityStatus, ServiceRecord
from schemas.family import Membership

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "mappings" / "health.yaml"
SEED = 20261123
FAMILIES = 150
TRUTH_KINDS = ("person", "disability", "service")


@pytest.fixture(scope="module")
def sandbox_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("health-mapping") / "sbx"
    generate(root, FAMILIES, SEED, workers=1)
    return root


@pytest.fixture(scope="module")
def mapped(sandbox_root: Path) -> list[SourceRecord | PayloadFailure]:
    mapping = load_mapping(MAPPING)
    out: list[SourceRecord | PayloadFailure] = []
    for path in sorted((sandbox_root / "health" / "night-0001").glob("resources-*.ndjson")):
        resources = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        bundle = searchset_bundle(resources, self_url=f"https://health.region.example/fhir/{path.name}",
                                  total=len(resources))
        out += read_json(json.dumps(bundle, ensure_ascii=False).encode(), mapping)
    return out


@pytest.fixture(scope="module")
def records(mapped: list[SourceRecord | PayloadFailure]) -> list[MappedRecord]:
    return [r for item in mapped if isinstance(item, SourceRecord) for r in item.result.records]


@pytest.fixture(scope="module")
def truth(sandbox_root: Path) -> set[tuple[str, str]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((sandbox_root / "truth" / "night-0001").glob("records-*.jsonl")):
        rows += [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return {(r["kind"], r["source_record_id"]) for r in rows
            if r["source"] == "health" and r["kind"] in TRUTH_KINDS}


def _ids(records: list[MappedRecord], kind: str) -> set[str]:
    return {r.source_record_id for r in records if r.kind == kind}


def test_the_generated_night_maps_without_quarantine(mapped: list[SourceRecord | PayloadFailure]) -> None:
    failures = [f.reason for f in mapped if isinstance(f, PayloadFailure)]
    quarantined = Counter(str(s.result.error) for s in mapped
                          if isinstance(s, SourceRecord) and s.result.error is not None)
    unhandled = [s.pointer for s in mapped
                 if isinstance(s, SourceRecord) and s.result.spec == "(no spec applies)"]
    assert failures == []
    assert quarantined == Counter()
    assert unhandled == []
    assert len(mapped) > 500, "the generated night is unexpectedly small"


def test_record_ids_are_the_truth_ids(records: list[MappedRecord], truth: set[tuple[str, str]]) -> None:
    produced = {(r.kind, r.source_record_id) for r in records if r.kind in TRUTH_KINDS}
    assert {kind for kind, _ in truth} == set(TRUTH_KINDS)
    assert produced - truth == set()
    assert truth - produced == set()
    assert len(produced) == sum(1 for r in records if r.kind in TRUTH_KINDS), "a record id is produced twice"


def test_references_point_at_produced_records(records: list[MappedRecord]) -> None:
    persons, families = _ids(records, "person"), _ids(records, "family")
    memberships = [r.record for r in records if isinstance(r.record, Membership)]
    assert memberships
    assert {m.person_ref for m in memberships} - persons == set()
    assert {m.family_ref for m in memberships} - families == set()
    # Condition.subject / Procedure.subject name the child's Patient, which is a person record here.
    subjects = {r.record.person_ref for r in records
                if isinstance(r.record, DisabilityStatus | ServiceRecord)}
    assert subjects - persons == set()
    roles = Counter(m.role.value for m in memberships)
    assert roles["child"] == len(families)
    assert {"mother", "father"} <= set(roles)


def test_night_one_deletes_nothing(mapped: list[SourceRecord | PayloadFailure]) -> None:
    assert [d for s in mapped if isinstance(s, SourceRecord) for d in s.result.deletions] == []


def test_hub_mapping_check_accepts_the_mapping(hub_cli: list[str]) -> None:
    result = subprocess.run([*hub_cli, "mapping", "check", str(MAPPING)], capture_output=True, text=True,
                            timeout=120, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
