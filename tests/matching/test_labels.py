"""Stewards' decisions as labels: which pairs they give, how they move m, and ``hub matching train --labels``.

A real sandbox region on loopback, a real registry; decisions are made through the stewards' own functions
(``decide_review``, ``unmerge``); fitted models go to the test's own ``HUB_MODELS_DIR``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from matching.config import load_config
from matching.labels import Label, apply_labels, label_check, steward_labels
from matching.model import MODELS_DIR, latest_model
from matching.reconcile import reconcile
from matching.steward import decide_review, unmerge
from registry import migrate
from registry.db import connect, drop_database, ensure_database, with_database
from tests.matching.levels import level_of
from tests.worlds import pull_all, sandbox_region


def _persons_with_records(url: str, at_least: int) -> list[tuple[str, list[tuple[str, str]]]]:
    with connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT person_id, array_agg(source_code ORDER BY source_code, source_record_id),
                      array_agg(source_record_id ORDER BY source_code, source_record_id)
               FROM entity_link WHERE record_kind = 'person' AND valid_to IS NULL
               GROUP BY person_id HAVING count(*) >= %s ORDER BY person_id""",
            (at_least,),
        )
        return [(pid, list(zip(sources, sids, strict=True))) for pid, sources, sids in cur.fetchall()]


@pytest.fixture(scope="module")
def decided(tmp_path_factory: pytest.TempPathFactory, pg_server_url: str) -> Any:
    """A reconciled region where a steward unmerged one record, and unmerged then re-accepted another."""
    with sandbox_region(pg_server_url, tmp_path_factory.mktemp("labels") / "sbx", 40, seed=83,
                        prefix="hub_labels") as url:
        pull_all(url)
        reconcile(url)
        (apart_pid, apart), (back_pid, back) = _persons_with_records(url, 3)[:2]
        with connect(url) as conn:
            unmerge(conn, apart_pid, *apart[0])
            unmerge(conn, back_pid, *back[0])
        with connect(url) as conn, conn.cursor() as cur:
            cur.execute(
                """INSERT INTO review_item (entity_kind, source_code, source_record_id, candidate_id, score)
                   VALUES ('person', %s, %s, %s, 5.0) RETURNING review_id""",
                (*back[0], back_pid),
            )
            review_id = cur.fetchone()[0]
        with connect(url) as conn:
            decide_review(conn, review_id, accept=True)
        yield {"url": url, "apart": apart, "back": back}


def _key(record: tuple[str, str]) -> str:
    return f"{record[0]}|{record[1]}"


def test_decisions_become_record_pairs_the_latest_decision_winning(decided: dict[str, Any]) -> None:
    with connect(decided["url"]) as conn:
        labels = steward_labels(conn, per_decision=3)
    pairs = {(lb.left["unique_id"], lb.right["unique_id"]): lb.match for lb in labels}
    apart, back = decided["apart"], decided["back"]
    # The unmerged record against each record left in its old person: not one person.
    assert {(_key(apart[0]), _key(r)) for r in apart[1:4]} <= {p for p, m in pairs.items() if not m}
    # Unmerged, then accepted back: the accept is the latest decision, so its pairs say one person.
    for other in back[1:4]:
        assert pairs[(_key(back[0]), _key(other))] is True
    # Two (record, person) pairs were decided (the re-accepted one twice: its latest decision counts), at
    # most three record pairs each.
    assert len(labels) <= 2 * 3
    with connect(decided["url"]) as conn:
        one_each = steward_labels(conn, per_decision=1)
    assert len(one_each) == 2


def _moved(row: dict[str, Any], n: int) -> dict[str, Any]:
    """The same person's record at another address (a family that moved)."""
    return {**row, "unique_id": f"{row['unique_id']}~{n}", "street_std": f"НОВАЯ {n}",
            "postal_code": f"9{n:05d}", "locality_std": f"ГОРОД {n}"}


def _address_else(model: dict[str, Any]) -> dict[str, Any]:
    address = next(c for c in model["comparisons"] if c["output_column_name"] == "address")
    return address["comparison_levels"][-1]


def test_accepted_pairs_move_m_towards_what_they_show(decided: dict[str, Any]) -> None:
    """Fifty people who moved, all confirmed by stewards: the "other address" level's m rises, the fit
    scores such pairs higher, and every comparison's m still sums to 1 over its levels."""
    with connect(decided["url"]) as conn:
        base = [lb.left for lb in steward_labels(conn, per_decision=3)]
    _, model = latest_model()
    home = {**base[0], "street_std": "СТАРАЯ 1", "postal_code": "100000", "locality_std": "ГОРОД"}
    labels = [Label(home, _moved(home, n), True) for n in range(50)]
    assert level_of(labels[0].left, labels[0].right, "address") == "All other comparisons"
    moved = apply_labels(model, labels, prior_pairs=200)
    before, after = float(_address_else(model)["m_probability"]), float(_address_else(moved)["m_probability"])
    assert after > before
    assert after == pytest.approx((200 * before / _m_total(model, "address") + 50) / 250, rel=1e-6)
    for old, new in zip(model["comparisons"], moved["comparisons"], strict=True):
        # A comparison the labels saw (a non-null level) sums to 1; one they did not see is as it was.
        assert new == old or _m_total(moved, new["output_column_name"]) == pytest.approx(1.0)
    firm = apply_labels(model, labels, prior_pairs=1e9)  # a prior worth a billion pairs: labels barely count
    assert float(_address_else(firm)["m_probability"]) == pytest.approx(before / _m_total(model, "address"),
                                                                        rel=1e-5)
    # Pairs a steward said are not one person never move m.
    unchanged = apply_labels(model, [Label(lb.left, lb.right, False) for lb in labels], prior_pairs=200)
    assert unchanged["comparisons"] == model["comparisons"]
    cfg = load_config()
    weights = [label_check(m, labels[:1], cfg)["matches"] for m in (model, moved)]
    bands = ["apart", "review", "linked"]
    assert bands.index(next(b for b, n in weights[1].items() if n)) >= bands.index(
        next(b for b, n in weights[0].items() if n))


def _m_total(model: dict[str, Any], name: str) -> float:
    comparison = next(c for c in model["comparisons"] if c["output_column_name"] == name)
    levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
    return sum(float(lv["m_probability"]) for lv in levels)


def test_label_check_sorts_pairs_into_the_nights_bands(decided: dict[str, Any]) -> None:
    with connect(decided["url"]) as conn:
        row = steward_labels(conn, per_decision=1)[0].left
    stranger = dict.fromkeys(row) | {
        "unique_id": "x|1", "source": row["source"], "family_stem": "ЯЯЯ", "given_name_std": "ЭЭЭ",
        "family_latin": "YAYAYA", "given_latin": "EEE", "birth_date": "1901-01-01",
        "birth_date_swap": "1901-01-01", "birth_year": 1901}
    same = {**row, "unique_id": "x|2"}
    _, model = latest_model()
    check = label_check(model, [Label(row, same, True), Label(row, stranger, False)], load_config())
    assert check == {"matches": {"linked": 1, "review": 0, "apart": 0},
                     "non_matches": {"linked": 0, "review": 0, "apart": 1}}


def test_train_with_labels_on_the_command_line(
    decided: dict[str, Any], hub_cli: list[str], tmp_path: Path
) -> None:
    shipped = sorted(p.name for p in MODELS_DIR.iterdir())
    env = {**os.environ, "HUB_DATABASE_URL": decided["url"], "HUB_MODELS_DIR": str(tmp_path / "models")}
    result = subprocess.run([*hub_cli, "matching", "train", "--labels", "--max-pairs", "2e5", "--json"],
                            capture_output=True, text=True, env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    labels = out["labels"]
    assert labels["pairs"] == labels["matches"] + labels["non_matches"]
    assert labels["matches"] >= 2
    assert labels["non_matches"] >= 2
    assert sum(labels["labelled_fit"]["matches"].values()) == labels["matches"]
    assert Path(out["model"]).parent == tmp_path / "models"
    assert sorted(p.name for p in MODELS_DIR.iterdir()) == shipped
    text = subprocess.run([*hub_cli, "matching", "train", "--labels", "--max-pairs", "2e5"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert "labels: " in text.stdout
    assert "Traceback" not in text.stderr


def test_train_on_an_empty_registry_is_a_one_line_error(
    pg_server_url: str, hub_cli: list[str], tmp_path: Path
) -> None:
    name = f"hub_labels_empty_{os.getpid()}"
    ensure_database(pg_server_url, name)
    url = with_database(pg_server_url, name)
    try:
        with connect(url) as conn:
            migrate.upgrade(conn)
        env = {**os.environ, "HUB_DATABASE_URL": url, "HUB_MODELS_DIR": str(tmp_path / "models")}
        result = subprocess.run([*hub_cli, "matching", "train", "--labels"], capture_output=True, text=True,
                                env=env, timeout=120, check=False)
    finally:
        drop_database(pg_server_url, name)
    assert result.returncode == 1
    expected = "error: only 0 staged persons: pull more data before training"
    assert result.stderr.strip().splitlines() == [expected]
    assert not (tmp_path / "models").exists()
