"""``hub matching train`` on a deployment whose agencies share no identifier (an English-language register).

It used to stop with ``ValueError: math domain error``: the prior came only from SNILS/OMS pairs, found
none, became 0, and EM took its logarithm. Now the prior falls back to identical names and birth date, and
the fitted model scores a typo'd duplicate above two strangers.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from matching.features import person_features
from matching.model import score, train
from schemas import Person
from schemas.base import Provenance

GIVEN = ["Elizabeth", "Michaela", "James", "Oliver", "Amelia", "Harry", "Isla", "Noah", "Grace", "Jack",
         "Sophie", "Thomas", "Emily", "George", "Lily", "Jacob", "Chloe", "Charlie", "Ella", "William"]
FAMILY = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson",
          "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
          "Clarke", "Wojciechowski", "Nguyen", "O'Connor", "Medina", "Beridze"]


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def _records(n: int = 300, seed: int = 7) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        family, given = rng.choice(FAMILY), rng.choice(GIVEN)
        born = dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(25_000))
        copies = [(family, given, born)]
        if i % 2 == 0:
            copies.append((_typo(rng, family), given, born))
        for c, (fam, giv, bd) in enumerate(copies):
            source = ("agency_a", "agency_b")[c]
            person = Person.model_validate({
                "provenance": Provenance(source_system=source, source_record_id=f"{i}-{c}",
                                         mapping_version="t"),
                "family_name": fam, "given_name": giv, "birth_date": bd})
            rows.append(person_features(f"{source}:{i}-{c}", source, person))
    return rows


def test_training_without_shared_identifiers_fits_a_model() -> None:
    rows = _records()
    assert not any(r["snils"] or r["oms"] or r["birth_cert"] for r in rows)
    model = train(rows, max_pairs=2e5)
    prior = model["probability_two_random_records_match"]
    assert 0 < prior < 1
    pairs = score(model, rows, [], -5)
    scores = {(p["unique_id_l"], p["unique_id_r"]): p["match_probability"] for p in pairs}
    twin = scores.get(("agency_a:0-0", "agency_b:0-1")) or scores.get(("agency_b:0-1", "agency_a:0-0"))
    assert twin is not None
    assert twin > 0.9


def test_a_level_training_never_saw_weighs_nothing_and_a_disagreement_is_capped() -> None:
    """Neither EM nor random pairs saw it → m = u (weight 0), not the floors' +10; EM never saw it but
    random pairs did → m at the floor, so one disagreement weighs about −10 at most."""
    from matching.model import M_FLOOR, floor_probabilities

    model = {"comparisons": [{"comparison_levels": [
        {"is_null_level": True},
        {"label_for_charts": "unseen", "m_probability": None, "u_probability": None},
        {"label_for_charts": "never in a true pair", "m_probability": None, "u_probability": 0.9},
        {"label_for_charts": "seen", "m_probability": 0.6, "u_probability": 0.01}]}]}
    levels = floor_probabilities(model)["comparisons"][0]["comparison_levels"]
    weights = {lv["label_for_charts"]: math.log2(lv["m_probability"] / lv["u_probability"])
               for lv in levels[1:]}
    assert weights["unseen"] == 0.0
    assert -10.5 < weights["never in a true pair"] < -9.5
    assert levels[2]["m_probability"] == M_FLOOR
    assert math.isclose(weights["seen"], math.log2(60))
