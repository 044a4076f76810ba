"""The standardisation benchmark runs (its numbers are read, never asserted)."""

from __future__ import annotations

import random

from bench.standardize import noisy_people, run
from matching.standardize import standardize_person


def test_the_benchmark_standardises_every_person() -> None:
    result = run(300)
    assert result["persons"] == 300
    assert result["cold_seconds"] > 0
    assert result["warm_per_second"] > 0


def test_noisy_people_keep_a_name_and_a_birth_date_through_standardisation() -> None:
    for person in noisy_people(200, random.Random(3)):
        row = standardize_person(person)
        assert row["family_stem"]
        assert row["given_name_std"]
        assert row["birth_date"]
