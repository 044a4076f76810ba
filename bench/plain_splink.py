"""The peer of ``hub bench match``: a plain Splink 5 dedupe of the same person records.

What someone would write first: raw names as the agencies sent them (no transliteration, no diminutives,
no ё/е, no swaps), Splink's stock ``NameComparison`` and ``DateOfBirthComparison``, blocking on birth date
and surname, u by random sampling, m by EM, connected components at a 0.9 match probability; no identifier
rules, no family support.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from matching.evaluate import load_truth, pair_scores
from registry.db import connect


def _records(url: str) -> list[dict[str, Any]]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT source_code, source_record_id, canonical FROM staged_record
                       WHERE record_kind = 'person' AND superseded_by IS NULL AND deleted_at IS NULL""")
        return [
            {
                "unique_id": f"{s}|{i}",
                "first_name": c.get("given_name"),
                "surname": c.get("family_name"),
                "patronymic": c.get("patronymic"),
                "dob": c.get("birth_date"),
            }
            for s, i, c in cur.fetchall()
        ]


def plain_splink(url: str, sandbox: Path, threshold: float = 0.9) -> dict[str, Any]:
    """Train, predict and cluster with plain settings; score against the truth like the hub."""
    logging.getLogger("splink").setLevel(logging.ERROR)
    records = _records(url)
    started = time.monotonic()
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("surname"),
            cl.ExactMatch("patronymic"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
        ],
        blocking_rules_to_generate_predictions=[block_on("dob"), block_on("surname")],
    )
    db = DuckDBAPI()
    linker = Linker(db.register(records), settings, log_level="ERROR")
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    skipped = []
    for column in ("dob", "surname"):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(column))
        except ValueError:  # Splink's EM can take log2 of 0 on some data; the peer goes on without the step
            skipped.append(column)
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    assigned = {str(r["unique_id"]): str(r["cluster_id"]) for r in clusters.as_record_list()}
    seconds = round(time.monotonic() - started, 2)
    truth = load_truth(sandbox)
    keys = {k: (k.partition("|")[0], k.partition("|")[2]) for k in assigned}
    true = {k: truth[key]["pid"] for k, key in keys.items() if key in truth}
    return {
        "records": len(records),
        "seconds": seconds,
        "threshold_match_probability": threshold,
        "em_steps_failed": skipped,  # blocked on these, Splink's EM raised a ValueError (math domain error)
        "persons": pair_scores(assigned, true),
    }
