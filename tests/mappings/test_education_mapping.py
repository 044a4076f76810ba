"""The education mapping over a whole generated night: every batch file of the sandbox, XSD-checked per record

The generated data is valid, so nothing may be quarantined; the persons the mapping makes are exactly the
sandbox's truth rows for the education source (students ``STU-…`` and representatives ``REP-…``), and every
reference between the records of one source (memberships, ПМПК statuses) points at a record it made.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from connectors.config import source_for_mapping
from mapper import Mapping, load_mapping
from mapper.readers import PayloadFailure, SourceRecord
from mapper.sample import records_of, schema_lookup
from sandbox.generate import generate
from schemas.care import DisabilityStatus
from schemas.family import Membership

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "mappings" / "education.yaml"
FAMILIES = 150
SEED = 7


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("education-mapping") / "sbx"
    generate(root, FAMILIES, SEED, workers=1)
    return root


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return load_mapping(MAPPING)


@pytest.fixture(scope="module")
def night(sandbox: Path, mapping: Mapping) -> list[SourceRecord | PayloadFailure]:
    """Every record of night 1's batch files, read as the connector will: XSD from the sources config."""
    source = source_for_mapping(mapping.source)
    assert source is not None, "education is not in config/sources.yaml"
    assert source.xsd, "education needs its XSD in config/sources.yaml"
    schema_for = schema_lookup(source.xsd_paths())
    files = sorted((sandbox / "education" / "night-0001").glob("batch-*.xml"))
    assert files, "the sandbox wrote no education batch"
    return [item for path in files
            for item in records_of(mapping, path, schema_for, strict=source.validation == "strict")]


def _truth_ids(sandbox: Path, kind: str) -> set[str]:
    rows = [json.loads(line) for path in sorted((sandbox / "truth" / "night-0001").glob("records-*.jsonl"))
            for line in path.read_text("utf-8").splitlines()]
    return {r["source_record_id"] for r in rows if r["source"] == "education" and r["kind"] == kind}


def _produced(night: list[SourceRecord | PayloadFailure], kind: str) -> list[str]:
    return [rec.source_record_id for item in night if isinstance(item, SourceRecord)
            for rec in item.result.records if rec.kind == kind]


def test_nothing_is_quarantined(night: list[SourceRecord | PayloadFailure]) -> None:
    failures = [f"{f.reason_code}: {f.reason}" for f in night if isinstance(f, PayloadFailure)]
    xsd = Counter("; ".join(r.xsd_errors) for r in night if isinstance(r, SourceRecord) and r.xsd_errors)
    mapping_errors = Counter(str(r.result.error) for r in night
                             if isinstance(r, SourceRecord) and r.result.error is not None)
    assert failures == []
    assert dict(xsd) == {}, "XSD-valid generated students were refused"
    assert dict(mapping_errors) == {}
    deletions = [r.pointer for r in night if isinstance(r, SourceRecord) and r.result.deletions]
    assert deletions == [], "night 1 deletes nothing"


def test_persons_are_exactly_the_truth_rows(sandbox: Path,
                                            night: list[SourceRecord | PayloadFailure]) -> None:
    persons = _produced(night, "person")
    assert len(persons) == len(set(persons)), "a person id was produced twice"
    truth = _truth_ids(sandbox, "person")
    assert truth, "the sandbox has no education truth rows"
    assert set(persons) == truth
    assert _truth_ids(sandbox, "family") == set(), "the school has no family record of its own"


def test_references_point_at_produced_records(night: list[SourceRecord | PayloadFailure]) -> None:
    persons, families = set(_produced(night, "person")), set(_produced(night, "family"))
    students = {p for p in persons if p.startswith("STU-")}
    memberships = [rec.record for item in night if isinstance(item, SourceRecord)
                   for rec in item.result.records if isinstance(rec.record, Membership)]
    assert {m.person_ref for m in memberships} <= persons
    assert {m.family_ref for m in memberships} <= families
    # one household per student card, with the student as its child
    assert families == {f"household:{s}" for s in students}
    children = Counter(m.family_ref for m in memberships if m.role == "child")
    assert set(children) == families
    assert set(children.values()) == {1}
    # one membership per person, each in the household of the card the person was listed on
    assert len(memberships) == len(persons)
    for item in night:
        assert isinstance(item, SourceRecord)
        student = next(rec.source_record_id for rec in item.result.records
                       if rec.kind == "person" and rec.source_record_id.startswith("STU-"))
        refs = {rec.record.family_ref for rec in item.result.records if isinstance(rec.record, Membership)}
        assert refs == {f"household:{student}"}, item.pointer
    statuses = [rec.record for item in night if isinstance(item, SourceRecord)
                for rec in item.result.records if isinstance(rec.record, DisabilityStatus)]
    assert statuses, "150 families should include a student with a ПМПК conclusion"
    assert {d.person_ref for d in statuses} <= students


def test_hub_mapping_check_accepts_the_mapping(hub_cli: list[str]) -> None:
    result = subprocess.run([*hub_cli, "mapping", "check", str(MAPPING)], capture_output=True, text=True,
                            cwd=ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
