"""Ground truth: one truth row per source record and night, and every truth row points into the world.

The agencies' own modules already match records and truth rows for social protection and education (both
nights, ``test_social_protection.py``, ``test_education_emitter.py``) and health on night 1
(``test_health_emitter.py``); this module adds the NGO (both nights) and health on night 2, and checks for
every agency and night what those do not: truth rows are well formed and unique, their pids and fids exist in
the world of that night, the family is known to that agency, and the counts ``generate`` / ``advance`` report
are the truth's.

One 400-family sandbox in chunks of 100 (four chunks, plus the new families' chunk on night 2).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

import sandbox.generate
from sandbox.agencies.ngo import household_id
from sandbox.emit import TruthRow
from sandbox.noise import NoiseRates
from sandbox.population import TrueFamily

SEED = 424242
FAMILIES = 400
SMALL_CHUNK = 100
NIGHTS = (1, 2)
KINDS = {
    "social_protection": {"person", "family", "case", "service"},
    "health": {"person", "disability", "service"},
    "education": {"person"},
    "ngo": {"person", "family", "service"},
}
"""The truth kinds each agency may write."""
PERSONLESS = {"family", "case"}
"""Kinds that describe a household, never one person."""


@dataclass
class NightTruth:
    """One night: its truth rows, the world as it was after that night, and what the command reported."""

    rows: list[dict[str, Any]]
    world: dict[str, TrueFamily]
    summary: dict[str, Any]


def _lines(paths: list[Path]) -> list[dict[str, Any]]:
    return [json.loads(line) for p in paths for line in p.read_text("utf-8").splitlines()]


def _read_night(root: Path, night: int, summary: dict[str, Any]) -> NightTruth:
    rows = _lines(sorted((root / "truth" / f"night-{night:04d}").glob("records-*.jsonl")))
    chunks = sandbox.generate.world_chunks(root)
    families = [f for c in chunks for f in sandbox.generate.read_world_chunk(root, c)]
    world = {f.fid: f for f in families}
    assert len(world) == len(families), "a fid is in two world chunks"
    return NightTruth(rows, world, summary)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("truth") / "sbx"


@pytest.fixture(scope="module")
def nights(root: Path) -> dict[int, NightTruth]:
    """Night 1 is read before ``advance``, which rewrites the world files in place."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sandbox.generate, "CHUNK", SMALL_CHUNK)
        first = _read_night(root, 1, sandbox.generate.generate(root, FAMILIES, SEED, workers=1))
        second = _read_night(root, 2, sandbox.generate.advance(root, workers=1))
    return {1: first, 2: second}


@pytest.mark.parametrize("night", NIGHTS)
def test_truth_rows_are_well_formed_and_unique(nights: dict[int, NightTruth], night: int) -> None:
    rows = nights[night].rows
    assert rows
    noise_kinds = set(NoiseRates().to_dict())
    for row in rows:
        assert set(row) == {f.name for f in fields(TruthRow)}, row
        assert row["night"] == night
        assert row["kind"] in KINDS[row["source"]], (row["source"], row["kind"])
        assert set(row["noise"]) <= noise_kinds, row["noise"]
        assert len(set(row["noise"])) == len(row["noise"]), "a noise kind listed twice"
        if row["kind"] in PERSONLESS:
            assert row["pid"] is None, row
        if row["kind"] == "person":
            assert row["pid"] is not None, row
    ids = Counter((r["source"], r["source_record_id"]) for r in rows)
    assert [k for k, n in ids.items() if n > 1] == [], "a source record id has two truth rows in one night"
    assert {r["source"] for r in rows} == set(KINDS)


@pytest.mark.parametrize("night", NIGHTS)
def test_truth_points_at_persons_and_families_of_the_world(nights: dict[int, NightTruth], night: int) -> None:
    world = nights[night].world
    for row in nights[night].rows:
        family = world.get(row["fid"])
        assert family is not None, f"{row['fid']} is not in the world of night {night}"
        assert row["source"] in family.agencies, "an agency wrote a family it does not know"
        if row["pid"] is not None:
            members = {m.pid for m in family.members}
            assert row["pid"] in members, f"{row['pid']} is not a member of {row['fid']}"
            assert family.person(row["pid"]).pid == row["pid"]


def test_the_world_keeps_every_family_and_person(nights: dict[int, NightTruth]) -> None:
    """Truth of night 1 stays resolvable after ``advance``: families are marked deleted, never dropped."""
    before, after = nights[1].world, nights[2].world
    assert set(before) < set(after), "advance added no family"
    for fid, family in before.items():
        assert {p.pid for p in family.persons} <= {p.pid for p in after[fid].persons}
    assert len(after) == nights[2].summary["new_families"] + FAMILIES


@pytest.mark.parametrize("night", NIGHTS)
def test_reported_counts_are_the_truths(nights: dict[int, NightTruth], night: int) -> None:
    counted = Counter(f"{r['source']}.{r['kind']}" for r in nights[night].rows)
    assert dict(counted) == nights[night].summary["records"]


# ---------------------------------------------------------------------- records ↔ truth where not yet tested


def _ngo_ids(root: Path, night: int) -> list[str]:
    """Every NGO record id of the night: participants, participations and the households they name."""
    folder = root / "ngo" / f"night-{night:04d}"
    participants = _lines(sorted(folder.glob("participants-*.jsonl")))
    participations = _lines(sorted(folder.glob("participations-*.jsonl")))
    households = {r["household_id"] for r in participants if r["household_id"]}
    # A participation may name only the household; that household has members on the same night.
    assert {r["household_id"] for r in participations if r["household_id"]} <= households
    return [str(r["id"]) for r in participants + participations] + sorted(households)


def _health_ids(root: Path, night: int) -> list[str]:
    resources = _lines(sorted((root / "health" / f"night-{night:04d}").glob("resources-*.ndjson")))
    return [f"{r['resourceType']}/{r['id']}" for r in resources]


READERS = {"ngo": _ngo_ids, "health": _health_ids}


@pytest.mark.parametrize(("agency", "night"), [("ngo", 1), ("ngo", 2), ("health", 2)])
def test_every_record_has_exactly_one_truth_row(
    root: Path, nights: dict[int, NightTruth], agency: str, night: int
) -> None:
    ids = READERS[agency](root, night)
    assert ids, f"no {agency} records on night {night}"
    assert [k for k, n in Counter(ids).items() if n > 1] == [], "a record id twice in one night"
    truth = {r["source_record_id"] for r in nights[night].rows if r["source"] == agency}
    assert set(ids) == truth


def test_ngo_household_ids_are_the_truths_families(root: Path, nights: dict[int, NightTruth]) -> None:
    for row in (r for r in nights[1].rows if r["source"] == "ngo" and r["kind"] == "family"):
        assert row["source_record_id"] == household_id(SEED, row["fid"])
