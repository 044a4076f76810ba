"""The social-protection emitter: valid EGISSO packages and case exports, a truth row per record, stable ids.

A 300-family sandbox in chunks of 25 (so that both EGISSO versions and both encodings occur) over two nights.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]

import sandbox.generate
from sandbox.agencies.social_protection import SocialProtectionEmitter, drop_folder, family_id
from sandbox.agencies.szn_egisso import MEASURES, fact_uuid, file_options, receiver_of
from sandbox.care import add_care
from sandbox.emit import EmitContext, Night
from sandbox.formats import egisso, szn_accompaniment
from sandbox.noise import DEFAULT_RATES, NoiseCounter
from sandbox.population import TrueFamily, generate_family

SEED = 20261101
FAMILIES = 300
SMALL_CHUNK = 25
START = sandbox.generate.DEFAULT_START
EXPECTED_RELATION = {"mother": "01", "father": "02", "guardian": "05", "foster_parent": "06"}


@dataclass
class NightFiles:
    """What one night's drop says, as ids: EGISSO and own-export records, terminations, relation codes."""

    egisso_ids: set[str] = field(default_factory=set)
    terminated: set[str] = field(default_factory=set)
    export_ids: set[str] = field(default_factory=set)
    relation: dict[str, str] = field(default_factory=dict)
    closed_families: set[str] = field(default_factory=set)
    versions: Counter[tuple[str, str]] = field(default_factory=Counter)


def _generate(root: Path, families: int, seed: int) -> Path:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox.generate, "CHUNK", SMALL_CHUNK)
        sandbox.generate.generate(root, families, seed, workers=1)
        sandbox.generate.advance(root, workers=1)
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("szn") / "sbx", FAMILIES, SEED)


def _night(path: Path) -> int:
    return (dt.datetime.strptime(path.name.split("_")[1], "%Y%m%d").date() - START).days + 1


def _version(root_element: Any) -> egisso.Version:
    namespace = etree.QName(root_element).namespace
    versions: dict[str, egisso.Version] = {"1.0.5": "1.0.5", "1.0.6": "1.0.6"}
    return next(versions[v] for v, ns in egisso.MSG_NS.items() if ns == namespace)


def _read_egisso(path: Path, out: NightFiles) -> None:
    data = path.read_bytes()
    root_element = etree.fromstring(data)
    version = _version(root_element)
    encoding = data.split(b"encoding='", 1)[1].split(b"'", 1)[0].decode()
    out.versions[(version, encoding)] += 1
    assert egisso.validate(data, version) == [], path.name
    pkg = egisso.PACKAGE_NS[version]
    for fact in root_element.iter(f"{{{pkg}}}fact"):
        uuid = fact.findtext(f"{{{pkg}}}uuid")
        reasons = fact.findall(f"{{{egisso.FACT_NS}}}reasonPersons/{{{egisso.PERSON_NS}}}prsnInfo")
        reason_ids = (f"{uuid}/reason/{n}" for n in range(1, len(reasons) + 1))
        out.egisso_ids |= {uuid, f"{uuid}/receiver", *reason_ids}
    for kind in egisso.TERMINATION_ORDER:
        for term in root_element.iter(f"{{{pkg}}}{kind}"):
            out.terminated.add(term.findtext(f"{{{pkg}}}assignmentFactUuid"))
            assert kind == ("terminationBasedOnEndOfRight" if version == "1.0.6"
                            else "terminationBasedOnIneligibility")


def _read_export(path: Path, out: NightFiles) -> None:
    data = path.read_bytes()
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert szn_accompaniment.validate(data) == [], path.name
    export = etree.fromstring(data)
    for family in export:
        out.export_ids.add(family.get("id"))
        if family.get("status") == "closed":
            out.closed_families.add(family.get("id"))
        out.export_ids |= {e.get("id") for e in family.iterfind(".//{*}case")}
        out.export_ids |= {e.get("id") for e in family.iterfind(".//{*}service")}
        for member in family.iterfind(".//{*}member"):
            out.export_ids.add(member.get("id"))
            out.relation[member.get("id")] = member.get("relationCode")


@pytest.fixture(scope="module")
def files(root: Path) -> dict[int, NightFiles]:
    nights: dict[int, NightFiles] = {1: NightFiles(), 2: NightFiles()}
    for path in sorted(drop_folder(root).iterdir()):
        assert path.name.startswith("SZN_"), path.name  # no .part left behind
        assert path.suffix == ".xml", path.name
        reader = _read_egisso if "_egisso_" in path.name else _read_export
        reader(path, nights[_night(path)])
    return nights


@pytest.fixture(scope="module")
def truth(root: Path) -> dict[int, dict[str, dict[str, Any]]]:
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for night in (1, 2):
        paths = sorted((root / "truth" / f"night-{night:04d}").glob("records-*.jsonl"))
        rows = [json.loads(line) for p in paths for line in p.read_text("utf-8").splitlines()]
        mine = [r for r in rows if r["source"] == "social_protection"]
        ids = Counter(r["source_record_id"] for r in mine)
        assert max(ids.values()) == 1, "a source_record_id is used twice in one night"
        out[night] = {r["source_record_id"]: r for r in mine}
    return out


@pytest.fixture(scope="module")
def world(root: Path) -> dict[str, TrueFamily]:
    return {f.fid: f for c in sandbox.generate.world_chunks(root)
            for f in sandbox.generate.read_world_chunk(root, c)}


def test_every_file_validates_in_both_versions_and_encodings(files: dict[int, NightFiles]) -> None:
    seen = files[1].versions + files[2].versions
    assert {v for v, _ in seen} == {"1.0.5", "1.0.6"}
    assert {e for _, e in seen} == {"utf-8", "windows-1251"}


@pytest.mark.parametrize("night", [1, 2])
def test_truth_rows_and_records_match(
    files: dict[int, NightFiles], truth: dict[int, dict[str, dict[str, Any]]], night: int
) -> None:
    in_files = files[night].egisso_ids | files[night].terminated | files[night].export_ids
    assert in_files == set(truth[night])
    kinds = Counter(row["kind"] for row in truth[night].values())
    assert set(kinds) == {"person", "family", "case", "service"}


def test_egisso_persons_are_receivers_and_children(
    truth: dict[int, dict[str, dict[str, Any]]], world: dict[str, TrueFamily]
) -> None:
    for sid, row in truth[1].items():
        family = world[row["fid"]]
        roles = {m.pid: m.role for m in family.members}
        if sid.endswith("/receiver"):
            assert roles[row["pid"]] in ("mother", "father", "guardian", "foster_parent")
            receiver = receiver_of(family)
            assert receiver is not None
            assert receiver.pid == row["pid"]
        elif "/reason/" in sid:
            assert roles[row["pid"]] == "child"


def test_relation_codes_follow_true_roles(
    files: dict[int, NightFiles], truth: dict[int, dict[str, dict[str, Any]]], world: dict[str, TrueFamily]
) -> None:
    seen = set()
    for night in (1, 2):
        for member_id, code in files[night].relation.items():
            row = truth[night][member_id]
            family = world[row["fid"]]
            member = next(m for m in family.members if m.pid == row["pid"])
            if member.role != "child":
                expected = EXPECTED_RELATION[member.role]
            elif any(m.role in ("guardian", "foster_parent") for m in family.members):
                expected = "07"
            else:
                expected = "03" if family.person(member.pid).sex == "male" else "04"
            assert code == expected, (member_id, member.role)
            seen.add(code)
    assert {"01", "02", "03", "04", "05", "06", "07"} <= seen


def test_duplicates_are_second_rows_of_the_same_person(truth: dict[int, dict[str, dict[str, Any]]]) -> None:
    members = [r for sid, r in truth[1].items() if sid.startswith("SZN-P-")]
    twice = Counter((r["fid"], r["pid"]) for r in members)
    assert len([k for k, n in twice.items() if n == 2]) > 1, "duplicate rate 1 % over ~1,500 member rows"
    assert max(twice.values()) == 2
    assert sum("duplicate" in r["noise"] for r in members) == sum(n - 1 for n in twice.values())


def test_changed_families_resend_the_same_fact_uuids(
    truth: dict[int, dict[str, dict[str, Any]]], world: dict[str, TrueFamily]
) -> None:
    first = {sid for sid, r in truth[1].items() if r["kind"] == "family" and not sid.startswith("SZN-")}
    again = {sid for sid, r in truth[2].items() if r["kind"] == "family" and not sid.startswith("SZN-")
             and r["fid"] in {row["fid"] for row in truth[1].values()}}
    assert again, "no family with facts changed on night 2"
    assert again <= first


def test_removed_families_are_terminated_and_closed(
    files: dict[int, NightFiles], truth: dict[int, dict[str, dict[str, Any]]], world: dict[str, TrueFamily]
) -> None:
    removed = [f for f in world.values() if f.deleted_on and "social_protection" in f.agencies]
    assert removed, "this seed removes a family known to social protection on night 2"
    for family in removed:
        assert family_id(SEED, family.fid) in files[2].closed_families
        night1_facts = {sid for sid, r in truth[1].items()
                        if r["fid"] == family.fid and r["kind"] == "family" and not sid.startswith("SZN-")}
        assert night1_facts == {s for s in files[2].terminated if truth[2][s]["fid"] == family.fid}


def _family_with_facts(seed: int) -> TrueFamily:
    for index in range(200):
        family = add_care(generate_family(seed, index, START), seed, START)
        receiver = receiver_of(family)
        if receiver and receiver.snils and any(c["category"] in MEASURES for c in family.categories):
            return family
    raise AssertionError("no family with a cash measure")


def _chunk_of_version(version: str, night: int) -> int:
    return next(c for c in range(1000) if file_options(SEED, night, c)[0] == version)


@pytest.mark.parametrize("version", ["1.0.5", "1.0.6"])
def test_remove_family_writes_terminations(tmp_path: Path, version: str) -> None:
    family = _family_with_facts(SEED)
    night = Night(2, START + dt.timedelta(days=1))
    chunk = _chunk_of_version(version, 2)
    ctx = EmitContext(tmp_path, SEED, night, chunk, DEFAULT_RATES["social_protection"], NoiseCounter())
    emitter = SocialProtectionEmitter(ctx)
    rows = emitter.remove_family(family)
    emitter.close()
    out = NightFiles()
    for path in sorted(drop_folder(tmp_path).iterdir()):
        (_read_egisso if "_egisso_" in path.name else _read_export)(path, out)
    assert out.versions.keys() == {(version, file_options(SEED, 2, ctx.chunk)[1])}
    assert out.terminated
    assert out.terminated <= {fact_uuid(SEED, family.fid, c["category"] or "") for c in family.categories}
    assert out.closed_families == {family_id(SEED, family.fid)}
    assert {r.source_record_id for r in rows} == out.terminated | out.closed_families


def test_empty_chunk_writes_no_file(tmp_path: Path) -> None:
    ctx = EmitContext(tmp_path, SEED, Night(1, START), 0, DEFAULT_RATES["social_protection"], NoiseCounter())
    SocialProtectionEmitter(ctx).close()
    assert not drop_folder(tmp_path).exists() or not any(drop_folder(tmp_path).iterdir())


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    def drop(run: str) -> dict[str, bytes]:
        root = _generate(tmp_path / run, 60, SEED)
        return {p.name: p.read_bytes() for p in sorted(drop_folder(root).iterdir())}

    first = drop("a")
    assert first == drop("b")
    assert len(first) >= 4
