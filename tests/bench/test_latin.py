"""The Latin benchmark's own data and mappings: the generator writes what its YAML mappings read."""

from __future__ import annotations

import json
from pathlib import Path

from bench.latin import MAPPING_A, MAPPING_B, generate
from mapper import load_mapping
from mapper.sample import run_sample


def test_the_generated_files_map_to_one_person_per_record(tmp_path: Path) -> None:
    counts = generate(tmp_path / "data", 60, seed=3)
    for name, text, sample, n in (("latin_a", MAPPING_A, "a/people.csv", counts["records_a"]),
                                  ("latin_b", MAPPING_B, "b/people.jsonl", counts["records_b"])):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, "utf-8")
        out = run_sample(load_mapping(path), tmp_path / "data" / sample, None, True)
        persons = [r for r in out["records"] if r["record_kind"] == "person"]
        assert len(persons) + len(out["quarantine"]) == n, out["quarantine"]
        assert len(persons) >= n - 3  # a missing-name record may be quarantined, no more
    truth = [json.loads(line) for line in
             (tmp_path / "data" / "truth" / "night-1" / "records-latin.jsonl").read_text().splitlines()]
    assert len(truth) == counts["records_a"] + counts["records_b"]
