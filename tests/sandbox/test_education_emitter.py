"""The education agency's SMEV student batches: valid XML, one truth row per id, school-age children only."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs and lxml-stubs is not pinned

from sandbox.agencies.education import BATCH_SIZE, EducationEmitter, student_id
from sandbox.care import add_care
from sandbox.emit import EmitContext, Night
from sandbox.formats.education import EDU_NS, Student, read_students_batch
from sandbox.formats.smev import validate_payload
from sandbox.generate import advance, generate
from sandbox.noise import DEFAULT_RATES, NoiseCounter
from sandbox.population import TrueFamily, TruePerson, generate_family

SEED = 20261101
FAMILIES = 300
START = dt.date(2026, 11, 1)
_NS = {"e": EDU_NS}


@dataclass
class NightData:
    """One night of the sandbox as the tests need it."""

    number: int
    files: dict[str, bytes]
    truth: dict[str, dict[str, Any]]
    world: dict[str, dict[str, Any]]

    def students(self) -> list[Student]:
        return [s for raw in self.files.values() for s in read_students_batch(etree.fromstring(raw)).students]


def _lines(paths: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for p in paths for line in p.read_text("utf-8").splitlines()]


def _education_files(root: Path, night: int) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "education" / f"night-{night:04d}").glob("*.xml"))}


def _read_night(root: Path, night: int) -> NightData:
    rows = [r for r in _lines(sorted((root / "truth" / f"night-{night:04d}").glob("records-*.jsonl")))
            if r["source"] == "education"]
    ids = Counter(r["source_record_id"] for r in rows)
    assert not ids or max(ids.values()) == 1, "a source_record_id is used twice in one night"
    world = {f["fid"]: f for f in _lines(sorted((root / "truth" / "world").glob("chunk-*.jsonl")))}
    return NightData(night, _education_files(root, night), {r["source_record_id"]: r for r in rows}, world)


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[int, NightData]:
    """Night 1 read right after generate (advance rewrites the world files), then night 2."""
    root = tmp_path_factory.mktemp("education") / "sbx"
    generate(root, FAMILIES, SEED, workers=1)
    first = _read_night(root, 1)
    advance(root, workers=1)
    return {1: first, 2: _read_night(root, 2)}


@pytest.mark.parametrize("night", [1, 2])
def test_every_batch_validates_and_holds_at_most_200(nights: dict[int, NightData], night: int) -> None:
    files = nights[night].files
    assert files
    errors = {name: e for name, raw in files.items() if (e := validate_payload(raw))}
    assert errors == {}
    sizes = [len(etree.fromstring(raw).findall("e:Student", _NS)) for raw in files.values()]
    assert max(sizes) <= BATCH_SIZE
    assert all(raw.startswith(b"<?xml version='1.0' encoding='UTF-8'?>") for raw in files.values())


def test_batches_are_numbered_without_gaps(nights: dict[int, NightData]) -> None:
    names = sorted(nights[1].files)
    assert len(names) >= 2, "300 families should fill more than one batch"
    assert names == [f"batch-{n:04d}-00000.xml" for n in range(len(names))]
    sizes = [len(etree.fromstring(nights[1].files[n]).findall("e:Student", _NS)) for n in names]
    assert all(size == BATCH_SIZE for size in sizes[:-1])


@pytest.mark.parametrize("night", [1, 2])
def test_one_truth_row_per_student_and_representative(nights: dict[int, NightData], night: int) -> None:
    data = nights[night]
    students = data.students()
    ids = [s.student_id for s in students]
    ids += [r.representative_id for s in students for r in s.representatives]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(data.truth)
    assert all(row["kind"] == "person" for row in data.truth.values())


def test_students_are_school_age_children_of_their_family(nights: dict[int, NightData]) -> None:
    data = nights[1]
    for student in data.students():
        row = data.truth[student.student_id]
        family = data.world[row["fid"]]
        assert "education" in family["agencies"]
        assert row["pid"] in _current(family, "child")
        child = TruePerson(**_person(family, row["pid"]))
        assert 7 <= child.age(START) <= 17
        assert student.school_class.startswith(str(min(11, max(1, child.age(START) - 6))))


def test_representatives_are_current_adults_with_their_relation(nights: dict[int, NightData]) -> None:
    data = nights[1]
    relations = {"MOTHER": "mother", "FATHER": "father", "GUARDIAN": "guardian",
                 "FOSTER_PARENT": "foster_parent"}
    for student in data.students():
        fid = data.truth[student.student_id]["fid"]
        for rep in student.representatives:
            row = data.truth[rep.representative_id]
            assert row["fid"] == fid
            assert row["pid"] in _current(data.world[fid], relations[rep.relation])


def test_pmpk_only_for_special_needs_children(nights: dict[int, NightData]) -> None:
    data = nights[1]
    with_pmpk = 0
    for student in data.students():
        row = data.truth[student.student_id]
        status = _person(data.world[row["fid"]], row["pid"])["health_status"]
        special = bool(status) and status["kind"] == "special_needs"
        assert (student.pmpk is not None) == special
        assert (student.adapted_programme is not None) == special
        if student.pmpk is not None:
            with_pmpk += 1
            assert student.pmpk.date.isoformat() == status["established_on"]
            assert "ОВЗ" in student.pmpk.text
    assert with_pmpk, "no special-needs student in a sample of this size (about 6 % of children)"


def test_duplicates_are_the_same_child_under_another_id(nights: dict[int, NightData]) -> None:
    data = nights[1]
    by_child: dict[str, list[Student]] = {}
    for student in data.students():
        by_child.setdefault(data.truth[student.student_id]["pid"], []).append(student)
    twice = [s for s in by_child.values() if len(s) == 2]
    assert twice, "no duplicate listing in a sample of this size (rate 2 %)"
    assert all(len(s) <= 2 for s in by_child.values())
    for first, second in twice:
        assert "duplicate" in data.truth[second.student_id]["noise"]
        assert "duplicate" not in data.truth[first.student_id]["noise"]
        assert first.school != second.school


def test_changed_at_spreads_on_night_1_and_is_the_night_later(nights: dict[int, NightData]) -> None:
    first = {s.changed_at for s in nights[1].students()}
    created = dt.datetime.fromisoformat("2026-11-01T01:00:00+03:00")
    assert len(first) > 100
    assert all(created - dt.timedelta(days=366) <= t <= created for t in first)
    later = {s.changed_at for s in nights[2].students()}
    assert later == {dt.datetime.fromisoformat("2026-11-02T01:00:00+03:00")}


def test_remove_family_writes_deleted_students(tmp_path: Path) -> None:
    family = _family_with_students()
    adding, removing = _emitter(tmp_path / "add"), _emitter(tmp_path / "remove")
    added, removed = adding.add_family(family), removing.remove_family(family)
    adding.close()
    removing.close()
    [raw] = _education_files(tmp_path / "remove", 2).values()
    assert validate_payload(raw) == []
    students = read_students_batch(etree.fromstring(raw)).students
    assert {str(s.change) for s in students} == {"deleted"}
    assert [r.source_record_id for r in removed] == [r.source_record_id for r in added]
    [kept] = _education_files(tmp_path / "add", 2).values()
    assert kept.replace(b'change="updated"', b'change="deleted"') == raw  # the last known state


def test_a_full_batch_is_written_before_close_and_empty_chunks_write_nothing(tmp_path: Path) -> None:
    emitter = _emitter(tmp_path / "full")
    family, queued = _family_with_students(), 0
    while queued < BATCH_SIZE:
        queued += sum(r.source_record_id.startswith("STU-") for r in emitter.add_family(family))
    assert len(_education_files(tmp_path / "full", 2)) == 1  # the first 200 went out; the rest wait
    emitter.close()
    assert len(_education_files(tmp_path / "full", 2)) == 1 + (queued > BATCH_SIZE)
    empty = _emitter(tmp_path / "empty")
    empty.close()
    assert not list((tmp_path / "empty").rglob("*.xml"))


def test_same_seed_same_bytes_other_seed_other_bytes(nights: dict[int, NightData], tmp_path: Path) -> None:
    generate(tmp_path / "again", FAMILIES, SEED, workers=1)
    generate(tmp_path / "other", FAMILIES, SEED + 1, workers=1)
    assert _education_files(tmp_path / "again", 1) == nights[1].files
    assert _education_files(tmp_path / "other", 1) != nights[1].files


def test_student_ids_look_like_the_schools(nights: dict[int, NightData]) -> None:
    for student in nights[1].students()[:50]:
        pid = nights[1].truth[student.student_id]["pid"]
        assert student.student_id in (student_id(SEED, pid), student_id(SEED, pid, 1))
        assert len(student.student_id) == 14  # "STU-" and 10 hex: unique at 250,000 families
        assert student.student_id == student.student_id.upper()


# ---------------------------------------------------------------------------------------------- helpers


def _current(family: dict[str, Any], role: str) -> set[str]:
    return {m["pid"] for m in family["members"] if m["role"] == role and m["until"] is None}


def _person(family: dict[str, Any], pid: str) -> dict[str, Any]:
    return next(p for p in family["persons"] if p["pid"] == pid)


def _emitter(root: Path) -> EducationEmitter:
    ctx = EmitContext(root, SEED, Night(2, START + dt.timedelta(days=1)), 0, DEFAULT_RATES["education"],
                      NoiseCounter())
    return EducationEmitter(ctx)


def _family_with_students() -> TrueFamily:
    """The first generated family with at least two school-age children and a representative."""
    for index in range(1000):
        family = add_care(generate_family(SEED, index, START), SEED, START)
        children = [family.person(m.pid) for m in family.members if m.role == "child"]
        if sum(7 <= c.age(START) <= 17 for c in children) >= 2:
            return family
    raise AssertionError("no family with two school-age children in 1000")
