"""The accuracy helpers the benchmarks report (pure functions over truth rows and links)."""

from __future__ import annotations

from matching.evaluate import missed_by_noise, pair_scores


def _row(pid: str, *noise: str) -> dict[str, object]:
    return {"pid": pid, "kind": "person", "noise": list(noise)}


def test_missed_pairs_are_counted_by_the_noise_on_either_record() -> None:
    people = {
        ("a", "1"): _row("p1"), ("b", "1"): _row("p1", "maiden_name"), ("c", "1"): _row("p1"),
        ("a", "2"): _row("p2", "typo"), ("b", "2"): _row("p2", "day_month_swap", "missing_patronymic"),
        ("a", "3"): _row("p3"), ("b", "3"): _row("p3"),
    }
    linked = {("a", "1"): "R1", ("b", "1"): "R9", ("c", "1"): "R1",
              ("a", "2"): "R2", ("b", "2"): "R8", ("a", "3"): "R3", ("b", "3"): "R7"}
    assert missed_by_noise(people, linked) == {
        "maiden_name": 2, "day_month_swap+missing_patronymic+typo": 1, "none": 1,
    }
    scores = pair_scores(linked, {k: str(r["pid"]) for k, r in people.items()})
    assert scores["true_pairs"] == 5
    assert scores["correct_pairs"] == 1
