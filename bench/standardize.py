"""Throughput of ``matching.standardize.standardize_person`` on noisy Russian persons, cold and warm caches.

A benchmark, not a test (the suite only checks that it runs on a small size): numbers, never assertions.

    python -m bench.standardize --persons 100000 --out bench/results/standardize.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import time
from pathlib import Path
from typing import Any

from matching import names_ru
from matching.standardize import clear_caches, standardize_person, to_latin, to_latin_gost
from schemas import Address, Person, Provenance

TODAY = dt.date(2025, 6, 1)


def noisy_people(n: int, rng: random.Random) -> list[Person]:
    """``n`` persons with the sandbox's kinds of noise: diminutives, Latin spellings, case."""
    male = [name for name, sex in names_ru.GIVEN_SEX.items() if sex == "male"]
    female = [name for name, sex in names_ru.GIVEN_SEX.items() if sex == "female"]
    fathers = list(names_ru.PATRONYMIC_FATHER)
    families = [f for f in names_ru.FAMILY_NAMES if not f.endswith(("А", "АЯ"))]
    people = []
    for i in range(n):
        is_male = rng.random() < 0.5
        family = rng.choice(families)
        family = family if is_male else names_ru.feminine_family_name(family)
        given_name = rng.choice(male if is_male else female)
        if rng.random() < 0.1:
            dims = [d for d, fulls in names_ru.DIMINUTIVES.items() if given_name in fulls]
            given_name = rng.choice(dims) if dims else given_name
        parts = [family, given_name, rng.choice(fathers)]
        if rng.random() < 0.1:  # the canonical model refuses the grave accent: GOST arrives with '
            parts = [to_latin(p) if rng.random() < 0.7 else to_latin_gost(p).replace("`", "'") for p in parts]
        parts = [p.title() if rng.random() < 0.9 else p for p in parts]
        street = f"ул. {rng.choice(families)}"
        home = Address(locality="Великий Новгород", street=street, house=str(1 + i % 90))
        people.append(Person.model_validate({
            "provenance": Provenance(source_system="ngo", source_record_id=f"p{i}", mapping_version="bench"),
            "family_name": parts[0], "given_name": parts[1], "patronymic": parts[2],
            "birth_date": dt.date(1990 + i % 30, 1 + i % 12, 1 + i % 28), "addresses": [home],
        }))
    return people


def run(persons: int, seed: int = 7) -> dict[str, Any]:
    """Standardise ``persons`` noisy persons twice: with cleared caches, then warm."""
    people = noisy_people(persons, random.Random(seed))  # noqa: S311 (reproducible data, not a secret)
    clear_caches()
    started = time.perf_counter()
    rows = [standardize_person(p, today=TODAY) for p in people]
    cold = time.perf_counter() - started
    started = time.perf_counter()
    for p in people:
        standardize_person(p, today=TODAY)
    warm = time.perf_counter() - started
    return {
        "persons": len(rows),
        "cold_seconds": round(cold, 3), "cold_per_second": round(len(rows) / max(cold, 1e-9)),
        "warm_seconds": round(warm, 3), "warm_per_second": round(len(rows) / max(warm, 1e-9)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = json.dumps(run(args.persons, args.seed), indent=2)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", "utf-8")
    print(text)


if __name__ == "__main__":
    main()
