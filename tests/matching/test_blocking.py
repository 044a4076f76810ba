"""Blocking keys: they find exactly the stored records a blocking rule pairs with a new one, and a night
that reads only those candidates gives the same registry as a night that reads every stored record."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from matching import blocking, store
from matching.config import load_config
from matching.evaluate import evaluate
from matching.model import latest_model
from matching.reconcile import reconcile
from matching.rules import IDENTIFIERS
from matching.standardize import is_placeholder_identifier
from registry.db import connect
from sandbox.generate import advance
from tests.worlds import pull_all, sandbox_region

RULES = [
    "l.birth_date = r.birth_date",
    "l.birth_date = r.birth_date_swap",
    "l.family_stem = r.family_stem AND l.given_name_std = r.given_name_std",
    "l.snils = r.snils",
    "l.family_stem = r.given_name_std AND l.given_name_std = r.family_stem",  # not an involution either way
    "l.family_stem = r.given_name_std",
]


def test_rules_that_are_conjunctions_of_equalities_are_keyed() -> None:
    rule = blocking.parse_rule(0, "l.a = r.a AND  l.b=r.c and l.d = r.d")
    assert rule is not None
    assert rule.pairs == (("a", "a"), ("b", "c"), ("d", "d"))
    assert not rule.symmetric
    for text in ("l.a = r.a OR l.b = r.b", "substr(l.a, 1, 3) = substr(r.a, 1, 3)", "l.a < r.a",
                 "l.a = r.a AND 1 = 1", "l.a = 'x'", "levenshtein(l.a, r.a) <= 1"):
        assert blocking.parse_rule(0, text) is None, text


def test_a_model_with_one_unkeyable_rule_has_no_scheme() -> None:
    _, model = latest_model()
    assert blocking.scheme_for(model, IDENTIFIERS) is not None
    odd = {**model, "blocking_rules_to_generate_predictions": [
        *model["blocking_rules_to_generate_predictions"], {"blocking_rule": "l.a = r.a OR l.b = r.b"}]}
    assert blocking.scheme_for(odd, IDENTIFIERS) is None


def _blocked(rules: list[str], a: dict[str, Any], b: dict[str, Any]) -> bool:
    """SQL semantics of the OR-ed rules in either orientation (NULL = anything is not true)."""
    def holds(left: dict[str, Any], right: dict[str, Any], rule: str) -> bool:
        parsed = blocking.parse_rule(0, rule)
        assert parsed is not None
        return all(left.get(x) is not None and left.get(x) == right.get(y) for x, y in parsed.pairs)
    return any(holds(a, b, r) or holds(b, a, r) for r in rules)


def _same_identifier(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return any(a.get(c) and a.get(c) == b.get(c) and not is_placeholder_identifier(k, a[c])
               for c, k in IDENTIFIERS.items())


def test_keys_meet_exactly_when_a_rule_or_an_identifier_pairs_the_records() -> None:
    scheme = blocking.scheme_for({"blocking_rules_to_generate_predictions": RULES}, IDENTIFIERS)
    assert scheme is not None
    rnd = random.Random(7)
    dates = ["2015-03-04", "2015-04-03", "2016-01-01", None]
    names = ["ИВАН", "ПЕТР", None]
    snils = ["11223344595", "00000000000", None]

    def record() -> dict[str, Any]:
        date = rnd.choice(dates)
        swap = None if date is None else f"{date[:4]}-{date[8:]}-{date[5:7]}"
        return {"birth_date": date, "birth_date_swap": swap, "family_stem": rnd.choice(names),
                "given_name_std": rnd.choice(names), "snils": rnd.choice(snils), "oms": None,
                "birth_cert": None, "shared_id": rnd.choice(["x:1", None])}

    seen = defaultdict(int)
    for _ in range(3000):
        a, b = record(), record()
        meet = bool(set(blocking.stored_keys(scheme, a)) & set(blocking.query_keys(scheme, b)))
        expected = _blocked(RULES, a, b) or _same_identifier(a, b)
        assert meet == expected, (a, b)
        seen[expected] += 1
    assert seen[True] > 300
    assert seen[False] > 300


def _partition(url: str) -> set[frozenset[tuple[str, str]]]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute("""SELECT person_id, source_code, source_record_id FROM entity_link
                       WHERE record_kind = 'person' AND valid_to IS NULL""")
        groups: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for pid, source, sid in cur.fetchall():
            groups[str(pid)].add((source, sid))
    return {frozenset(g) for g in groups.values()}


def _two_nights(pg_server_url: str, sandbox: Path, prefix: str) -> tuple[Any, ...]:
    with sandbox_region(pg_server_url, sandbox, 90, seed=53, prefix=prefix) as url:
        pull_all(url)
        first = reconcile(url)
        advance(sandbox)
        pull_all(url)
        second = reconcile(url)
        again = reconcile(url)
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM match_person")
            stored = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM review_item WHERE status = 'open'")
            reviews = cur.fetchone()[0]
        return _partition(url), first, second, again, stored, reviews


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str) -> dict[str, Any]:
    keyed = _two_nights(pg_server_url, tmp_path_factory.mktemp("keyed") / "sbx", "hub_keyed")
    # The same rules plus one that adds no pair but cannot be keyed: that model reads every stored record.
    _, model = latest_model()
    rules = model["blocking_rules_to_generate_predictions"]
    full_model = {**model, "blocking_rules_to_generate_predictions": [
        *rules, {"blocking_rule": f"({rules[0]['blocking_rule']}) AND 1 = 1", "sql_dialect": "duckdb"}]}
    models = tmp_path_factory.mktemp("models")
    (models / "person-v99.json").write_text(json.dumps(full_model), "utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HUB_MODELS_DIR", str(models))
        full = _two_nights(pg_server_url, tmp_path_factory.mktemp("full") / "sbx", "hub_fullscan")
    return {"keyed": keyed, "full": full}


def test_a_night_on_candidates_gives_the_registry_a_full_scan_gives(nights: dict[str, Any]) -> None:
    keyed, full = nights["keyed"], nights["full"]
    assert keyed[0] == full[0]  # the same records make the same persons
    assert keyed[5] == full[5]  # and the same pairs wait for a steward
    assert keyed[2]["persons"]["auto_links"] == full[2]["persons"]["auto_links"]
    assert keyed[2]["persons"]["rule_links"] == full[2]["persons"]["rule_links"]


def test_night_two_reads_only_candidates_and_their_clusters(nights: dict[str, Any]) -> None:
    keyed, full = nights["keyed"], nights["full"]
    stored = keyed[4]
    second = keyed[2]["persons"]["extra"]
    assert second["stored_loaded"] < stored / 2, second
    assert full[2]["persons"]["extra"]["stored_loaded"] >= stored - keyed[2]["persons"]["records"]
    assert keyed[1]["persons"]["extra"]["keys_rebuilt"] == 0  # a new registry builds keys as it goes
    assert keyed[3]["persons"]["records"] == 0  # a rerun finds nothing pending


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str) -> Iterator[str]:
    with sandbox_region(pg_server_url, tmp_path_factory.mktemp("closure") / "sbx", 40, seed=61,
                        prefix="hub_closure") as url:
        pull_all(url)
        reconcile(url)
        yield url


def test_a_merge_moves_records_that_share_no_key_with_tonight(small: str) -> None:
    """Person P = {R1}, Q = {R2, R3} (Q newer); R3 is found by no key. R1 comes again and meets R2: Q merges
    into P, and R3 — never a candidate, only a member of Q — must move to P with the rest."""
    with connect(small) as conn, conn.cursor() as cur:
        cur.execute("""SELECT registry_id FROM match_person GROUP BY registry_id HAVING count(*) >= 3
                       ORDER BY registry_id LIMIT 1""")
        p = cur.fetchone()[0]
        cur.execute("""SELECT source_code, source_record_id FROM match_person WHERE registry_id = %s
                       ORDER BY source_code, source_record_id""", (p,))
        r1, r2, *rest = [tuple(r) for r in cur.fetchall()]
        cur.execute("SELECT max(run_id) FROM run")
        run_id = cur.fetchone()[0]
        q = store.allocate_ids(conn, "registry_person", 1, run_id)[0]
        moved = [r2, *rest]
        store.set_links(conn, "person", [{"source": s, "source_record_id": i, "registry_id": q,
                                          "decision": "auto"} for s, i in moved], run_id)
        for s, i in moved:
            cur.execute("""UPDATE match_person SET registry_id = %s WHERE source_code = %s
                           AND source_record_id = %s""", (q, s, i))
        for s, i in rest:  # hidden from every key: only Q's cluster reaches them
            cur.execute("""UPDATE match_person SET block_keys = '{}' WHERE source_code = %s
                           AND source_record_id = %s""", (s, i))
        cur.execute("""UPDATE staged_reconcile SET run_id = NULL WHERE staged_id IN (
                       SELECT staged_id FROM staged_record WHERE source_code = %s
                       AND source_record_id = %s AND record_kind = 'person' AND superseded_by IS NULL)""", r1)
    stats = reconcile(small)
    assert stats["persons"]["merges"] >= 1
    with connect(small) as conn, conn.cursor() as cur:
        cur.execute("SELECT status, replaced_by FROM registry_person WHERE registry_id = %s", (q,))
        assert cur.fetchone() == ("replaced", p)
        for s, i in [r1, r2, *rest]:
            cur.execute("""SELECT person_id FROM entity_link WHERE source_code = %s AND source_record_id = %s
                           AND record_kind = 'person' AND valid_to IS NULL""", (s, i))
            assert cur.fetchone()[0] == p
            cur.execute("""SELECT registry_id FROM match_person WHERE source_code = %s
                           AND source_record_id = %s""", (s, i))
            assert cur.fetchone()[0] == p


def test_stored_features_older_than_standardisation_are_derived_again_once(small: str) -> None:
    """Records stored before standardisation had the sound keys (and by another scheme): the next night
    derives their features and keys again from the staged records, so they meet tonight's records."""
    with connect(small) as conn, conn.cursor() as cur:
        cur.execute("""UPDATE match_person SET features = features - 'family_sound' - 'given_sound',
                       block_keys = NULL""")
        cur.execute("UPDATE match_block_scheme SET version = 'written-by-an-older-hub'")
        cur.execute("SELECT count(*) FROM match_person")
        stored = cur.fetchone()[0]
        cur.execute("""UPDATE staged_reconcile SET run_id = NULL WHERE staged_id =
                       (SELECT min(staged_id) FROM match_person)""")
    night = reconcile(small)["persons"]["extra"]
    assert night["keys_rebuilt"] == stored
    with connect(small) as conn, conn.cursor() as cur:
        cur.execute("""SELECT count(*) FILTER (WHERE features ? 'family_sound'),
                              count(*) FILTER (WHERE block_keys IS NULL) FROM match_person""")
        assert cur.fetchone() == (stored, 0)
    assert reconcile(small)["persons"]["extra"].get("keys_rebuilt", 0) == 0  # once


def test_a_night_in_small_batches_is_as_accurate(tmp_path: Path, pg_server_url: str) -> None:
    """Batches meet earlier batches of the same night through the stored keys, as a later night would."""
    sandbox = tmp_path / "sbx"
    with sandbox_region(pg_server_url, sandbox, 60, seed=67, prefix="hub_batches") as url:
        pull_all(url)
        # Every batch's features come from the feature workers (the next one's while this one reconciles).
        cfg = load_config().model_copy(update={"person_batch": 150, "feature_pool_min_records": 1})
        stats = reconcile(url, config=cfg)
        assert stats["persons"]["records"] > 600  # four batches and more
        scores = evaluate(sandbox, url)["persons"]
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute("""SELECT count(*) FROM review_item
                           WHERE entity_kind = 'person' AND created_run_id = %s""", (stats["run_id"],))
            queued = cur.fetchone()[0]
    assert stats["persons"]["review_items"] == queued  # every batch's, not the last one's
    assert scores["precision"] >= 0.995, scores
    assert scores["recall"] >= 0.99, scores
