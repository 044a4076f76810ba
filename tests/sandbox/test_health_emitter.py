"""The health agency's FHIR emitter: valid resources, one truth row each, stable output."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sandbox.agencies.health import HealthEmitter, patient_id
from sandbox.care import add_care
from sandbox.emit import EmitContext, Night
from sandbox.formats.fhir import validate_resource
from sandbox.generate import generate
from sandbox.noise import DEFAULT_RATES, NoiseCounter
from sandbox.population import TrueFamily, TrueMember, generate_family

SEED = 20261101
FAMILIES = 300
AS_OF = dt.date(2026, 11, 1)


def _lines(paths: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for p in paths for line in p.read_text("utf-8").splitlines()]


def _health_bytes(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "health" / "night-0001").glob("*.ndjson"))}


@pytest.fixture(scope="module")
def sandbox_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("health") / "sbx"
    generate(root, FAMILIES, SEED, workers=1)
    return root


@pytest.fixture(scope="module")
def resources(sandbox_root: Path) -> list[dict[str, Any]]:
    return _lines(sorted((sandbox_root / "health" / "night-0001").glob("*.ndjson")))


@pytest.fixture(scope="module")
def truth(sandbox_root: Path) -> dict[str, dict[str, Any]]:
    rows = _lines(sorted((sandbox_root / "truth" / "night-0001").glob("records-*.jsonl")))
    health = [r for r in rows if r["source"] == "health"]
    ids = Counter(r["source_record_id"] for r in health)
    assert max(ids.values()) == 1, "a source_record_id is used twice"
    return {r["source_record_id"]: r for r in health}


@pytest.fixture(scope="module")
def world(sandbox_root: Path) -> dict[str, dict[str, Any]]:
    families = _lines(sorted((sandbox_root / "truth" / "world").glob("chunk-*.jsonl")))
    return {f["fid"]: f for f in families}


def _ref(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource['id']}"


def _children(family: dict[str, Any]) -> set[str]:
    return {m["pid"] for m in family["members"] if m["role"] == "child" and m["until"] is None}


def test_every_resource_validates(resources: list[dict[str, Any]]) -> None:
    kinds = Counter(r["resourceType"] for r in resources)
    assert set(kinds) == {"Patient", "RelatedPerson", "Condition", "Procedure"}
    errors = {_ref(r): e for r in resources if (e := validate_resource(r))}
    assert errors == {}


def test_one_truth_row_per_resource(resources: list[dict[str, Any]], truth: dict[str, Any]) -> None:
    refs = [_ref(r) for r in resources]
    assert len(refs) == len(set(refs))
    assert set(refs) == set(truth)
    kinds = {"Patient": "person", "RelatedPerson": "person", "Condition": "disability",
             "Procedure": "service"}
    assert all(truth[_ref(r)]["kind"] == kinds[r["resourceType"]] for r in resources)


def test_patients_are_children_of_their_family(
    resources: list[dict[str, Any]], truth: dict[str, Any], world: dict[str, Any]
) -> None:
    for patient in (r for r in resources if r["resourceType"] == "Patient"):
        row = truth[_ref(patient)]
        assert row["pid"] in _children(world[row["fid"]])
        assert "health" in world[row["fid"]]["agencies"]


def test_duplicates_are_second_patients_of_the_same_child(
    resources: list[dict[str, Any]], truth: dict[str, Any]
) -> None:
    by_child: dict[str, list[dict[str, Any]]] = {}
    for patient in (r for r in resources if r["resourceType"] == "Patient"):
        by_child.setdefault(truth[_ref(patient)]["pid"], []).append(patient)
    twice = [p for p in by_child.values() if len(p) == 2]
    assert twice, "no duplicate registration in a sample of this size (rate 2 %)"
    assert all(len(p) <= 2 for p in by_child.values())
    for first, second in twice:
        assert "duplicate" in truth[_ref(second)]["noise"]
        assert first["identifier"][0]["value"] != second["identifier"][0]["value"]  # the MRN


def test_related_persons_point_to_patients_of_the_night(
    resources: list[dict[str, Any]], truth: dict[str, Any], world: dict[str, Any]
) -> None:
    patients = {r["id"]: truth[_ref(r)] for r in resources if r["resourceType"] == "Patient"}
    related = [r for r in resources if r["resourceType"] == "RelatedPerson"]
    assert related
    for person in related:
        target = person["patient"]["reference"].removeprefix("Patient/")
        assert target in patients
        row = truth[_ref(person)]
        assert row["fid"] == patients[target]["fid"]
        assert row["pid"] not in _children(world[row["fid"]])
        assert person["birthDate"][4] == "-"  # FHIR date, never the dd.mm.yyyy of other sources


def test_conditions_exactly_for_children_with_health_status(
    resources: list[dict[str, Any]], truth: dict[str, Any], world: dict[str, Any]
) -> None:
    expected = {p["pid"] for f in world.values() if "health" in f["agencies"]
                for p in f["persons"] if p["health_status"] and p["pid"] in _children(f)}
    conditions = [truth[_ref(r)]["pid"] for r in resources if r["resourceType"] == "Condition"]
    assert expected
    assert sorted(conditions) == sorted(expected)


def test_procedures_are_the_health_agencys_services(
    resources: list[dict[str, Any]], truth: dict[str, Any], world: dict[str, Any]
) -> None:
    services = {(f["fid"], s["pid"]) for f in world.values() if "health" in f["agencies"] and _children(f)
                for s in f["services"] if s["agency"] == "health"}
    procedures = [truth[_ref(r)] for r in resources if r["resourceType"] == "Procedure"]
    assert procedures
    assert {(row["fid"], row["pid"]) for row in procedures} == services


def test_parent_and_family_services_go_to_the_youngest_child(tmp_path: Path) -> None:
    family = _family_with_services(SEED)
    emitter = _emitter(tmp_path)
    rows = emitter.add_family(family)
    emitter.close()
    written = _lines(sorted(tmp_path.glob("health/night-0002/*.ndjson")))
    children = [family.person(m.pid) for m in family.members if m.role == "child"]
    youngest = max(children, key=lambda c: (c.birth_date, c.pid))
    subjects = {r["subject"]["reference"] for r in written if r["resourceType"] == "Procedure"}
    assert subjects == {f"Patient/{patient_id(SEED, youngest.pid)}"}
    # The truth keeps the real recipient: the parent, or nobody in particular for the whole family.
    services = {r.pid for r in rows if r.kind == "service"}
    assert services == {family.services[0]["pid"], None}


def test_a_later_birth_does_not_move_old_procedures(tmp_path: Path) -> None:
    family = _family_with_services(SEED)
    before = _procedure_subjects(family, tmp_path / "before")
    baby = dataclasses.replace(family.person(family.members[-1].pid), pid=f"{family.fid}-99",
                               birth_date="2026-11-01", health_status=None)
    family.persons.append(baby)
    family.members.append(TrueMember(baby.pid, "child", baby.birth_date))
    assert _procedure_subjects(family, tmp_path / "after") == before


def test_remove_family_writes_inactive_patients_and_related_persons(tmp_path: Path) -> None:
    family = _family_with_services(SEED)
    emitter = _emitter(tmp_path)
    added = emitter.add_family(family)
    removed = emitter.remove_family(family)
    emitter.close()
    lines = _lines(sorted(tmp_path.glob("health/night-0002/*.ndjson")))
    gone = lines[len(added):]
    assert {r["resourceType"] for r in gone} == {"Patient", "RelatedPerson"}
    assert all(r["active"] is False for r in gone)
    assert [r.source_record_id for r in removed] == [_ref(r) for r in gone]
    assert {_ref(r) for r in gone} <= {r.source_record_id for r in added}
    assert all(r["meta"]["lastUpdated"] == "2026-11-02T01:00:00+03:00" for r in lines)


def test_family_without_children_yields_nothing(tmp_path: Path) -> None:
    family = _family_with_services(SEED)
    family.members = [m for m in family.members if m.role != "child"]
    emitter = _emitter(tmp_path)
    assert emitter.add_family(family) == []
    assert emitter.remove_family(family) == []


def test_same_seed_same_bytes_other_seed_other_bytes(sandbox_root: Path, tmp_path: Path) -> None:
    generate(tmp_path / "again", FAMILIES, SEED, workers=1)
    generate(tmp_path / "other", FAMILIES, SEED + 1, workers=1)
    first = _health_bytes(sandbox_root)
    assert first
    assert _health_bytes(tmp_path / "again") == first
    assert _health_bytes(tmp_path / "other") != first


def _procedure_subjects(family: TrueFamily, root: Path) -> dict[str, str]:
    emitter = _emitter(root)
    emitter.add_family(family)
    emitter.close()
    written = _lines(sorted(root.glob("health/night-0002/*.ndjson")))
    return {r["id"]: r["subject"]["reference"] for r in written if r["resourceType"] == "Procedure"}


def _emitter(root: Path) -> HealthEmitter:
    """An emitter for night 2 (so every lastUpdated is the night's timestamp)."""
    ctx = EmitContext(root, SEED, Night(2, AS_OF + dt.timedelta(days=1)), 0, DEFAULT_RATES["health"],
                      NoiseCounter())
    return HealthEmitter(ctx)


def _family_with_services(seed: int) -> TrueFamily:
    """A two-child family whose health services go to a parent and to the whole family."""
    for index in range(500):
        family = add_care(generate_family(seed, index, AS_OF), seed, AS_OF)
        adults = [m.pid for m in family.members if m.role != "child"]
        if len([m for m in family.members if m.role == "child"]) >= 2 and adults:
            break
    family.services = [
        {"service_id": f"{family.fid}-S90", "kind": "socio_medical", "agency": "health", "org": "ГОБУЗ",
         "pid": adults[0], "started_on": "2026-10-01", "ended_on": "2026-10-01", "status": "delivered",
         "case_id": None},
        {"service_id": f"{family.fid}-S91", "kind": "socio_medical", "agency": "health", "org": "ГОБУЗ",
         "pid": None, "started_on": "2026-10-20", "ended_on": None, "status": "in_progress",
         "case_id": None},
    ]
    return family
