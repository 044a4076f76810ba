"""Role-aware family support: one child's mother in two households is one woman, whatever her surname;
siblings and twins, who share that mother, never merge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from matching.cluster import UnionFind
from matching.config import MatchingConfig
from matching.features import person_features
from matching.household_index import HouseholdIndex
from matching.model import latest_model
from matching.persons import _explanation, _level_labels
from matching.reconcile import reconcile
from matching.role_support import RolePair, dates_may_agree, role_edges, role_pairs
from registry.households import MembershipRow
from schemas import Person
from schemas.base import Provenance
from tests.sources import MakeSource, query


def _membership(source: str, person: str, household: str, role: str) -> MembershipRow:
    return MembershipRow(source, f"{household}/{person}", person, household, role, "2020-01-01", None)


def _index() -> HouseholdIndex:
    """Agency a: household 1 = mother m, child c. Agency b: household 2 = mother m, children c and s."""
    return HouseholdIndex([
        _membership("a", "m", "1", "mother"), _membership("a", "c", "1", "child"),
        _membership("b", "m", "2", "mother"), _membership("b", "c", "2", "child"),
        _membership("b", "s", "2", "child"), _membership("b", "f", "2", "father"),
    ])


def _linked(*pairs: tuple[str, str]) -> UnionFind:
    uf = UnionFind()
    for a, b in pairs:
        uf.add(a)
        uf.add(b)
        uf.union(a, b)
    return uf


def test_the_mothers_of_one_linked_child_are_a_role_pair() -> None:
    pairs = role_pairs(["b|m", "b|c", "b|s", "b|f"], _index(), _linked(("a|c", "b|c")))
    assert pairs == [RolePair("b|m", "a|m", "mother", "child")]  # no father in a, nothing for the sibling


def test_a_child_of_one_linked_mother_is_paired_with_each_child_of_hers_and_nothing_is_paired_twice() -> None:
    pairs = role_pairs(["b|m", "b|c", "b|s", "a|m", "a|c"], _index(), _linked(("a|m", "b|m")))
    assert {(p.left, p.right) for p in pairs} == {("b|c", "a|c"), ("b|s", "a|c")}
    assert {(p.role, p.via_role) for p in pairs} == {("child", "mother")}


def test_pairs_whose_birth_dates_disagree_are_not_even_scored() -> None:
    rows = {"a|c": {"birth_date": "2015-06-01", "birth_date_swap": "2015-01-06"},  # swapped: kept
            "b|c": {"birth_date": "2015-01-06"},
            "b|s": {"birth_date": "2017-02-11"}}  # the sibling
    pairs = role_pairs(["b|m", "b|c", "b|s", "a|m", "a|c"], _index(), _linked(("a|m", "b|m")), rows)
    assert {(p.left, p.right) for p in pairs} == {("b|c", "a|c")}
    for a, b in (({"birth_date": None}, {"birth_date": "2015-06-01"}), (None, {"birth_date": "2015-06-01"})):
        assert dates_may_agree(a, b)


def test_records_the_links_already_join_are_no_pair() -> None:
    assert role_pairs(["b|m"], _index(), _linked(("a|c", "b|c"), ("a|m", "b|m"))) == []


def _row(key: str, **fields: Any) -> dict[str, Any]:
    source, rid = key.split("|")
    person = Person.model_validate({
        "provenance": Provenance(source_system=f"agency_{source}", source_record_id=rid, mapping_version="t"),
        **fields})
    return {**person_features(key, f"agency_{source}", person), "unique_id": key}


MOTHER = {"family_name": "Иванова", "given_name": "Мария", "birth_date": "1985-03-07", "sex": "female"}


@pytest.mark.parametrize(("other", "linked"), [
    ({"family_name": "Смирнова"}, True),  # her maiden name
    ({"family_name": "Смирнова", "birth_date": "1985-07-03"}, True),  # and day and month swapped
    ({"birth_date": "1985-07-03"}, True),  # only the date swapped, no patronymic anywhere
    ({"family_name": "Смирнова", "given_name": "Ольга"}, False),  # another given name: another woman
    ({"family_name": "Смирнова", "birth_date": "1986-03-07"}, False),  # another birth date
    ({"family_name": "Смирнова", "birth_date": None}, False),  # no date to agree
    ({"family_name": "Смирнова", "sex": "male", "patronymic": "Иванович",
      "birth_date": "1985-07-03"}, False),  # everything else disagrees: below role_support_weight
])
def test_a_role_pair_is_linked_only_when_the_records_allow_it(other: dict[str, Any], linked: bool) -> None:
    _, model = latest_model()
    labels = _level_labels(model)
    rows = {"a|m": _row("a|m", **MOTHER), "b|m": _row("b|m", **{**MOTHER, **other})}
    edges = role_edges(None, [RolePair("b|m", "a|m", "mother", "child")], rows, model, MatchingConfig(),
                       lambda pair: _explanation(pair, labels))
    assert bool(edges) is linked
    for edge in edges:
        assert edge.decision == "family_supported"
        assert edge.explanation["family_support"] == "role"
        assert edge.explanation["role"] == "mother"
        assert "Иванова" not in repr(edge.explanation)  # levels and weights, never the values


@pytest.mark.parametrize(("other", "linked"), [
    ({}, True),  # an agency that sends no parent's birth date: the same whole name
    ({"family_name": "Иваонва"}, True),  # and a typo: no blocking rule pairs them, the family does
    ({"given_name": "Маря"}, True),
    ({"family_name": "Смирнова"}, False),  # only the given name: not enough without a date
    ({"given_name": "Ольга"}, False),
])
def test_without_a_birth_date_the_whole_name_must_agree(other: dict[str, Any], linked: bool) -> None:
    _, model = latest_model()
    labels = _level_labels(model)
    rows = {"a|m": _row("a|m", **{**MOTHER, "birth_date": None}),
            "b|m": _row("b|m", **{**MOTHER, "birth_date": None, **other})}
    edges = role_edges(None, [RolePair("b|m", "a|m", "mother", "child")], rows, model, MatchingConfig(),
                       lambda pair: _explanation(pair, labels))
    assert bool(edges) is linked


def test_siblings_and_twins_are_never_linked_through_their_mother() -> None:
    _, model = latest_model()
    labels = _level_labels(model)
    child = {"family_name": "Иванов", "given_name": "Петр", "birth_date": "2015-06-01", "sex": "male"}
    rows = {"a|c": _row("a|c", **child),
            "b|s": _row("b|s", **{**child, "given_name": "Павел"}),  # a twin
            "b|t": _row("b|t", **{**child, "given_name": "Павел", "birth_date": "2017-02-11"}),
            "b|c": _row("b|c", **{**child, "birth_date": "2015-01-06"})}  # the same boy, date swapped
    rows["b|g"] = _row("b|g", family_name="Иванова", given_name="Петра", birth_date="2015-06-01")
    rows["b|h"] = _row("b|h", family_name="Иванова", given_name="Петра", birth_date="2015-06-01",
                       sex="female")  # a boy-girl twin, by recorded sex as well
    pairs = [RolePair(k, "a|c", "child", "mother") for k in ("b|s", "b|t", "b|c", "b|g", "b|h")]
    edges = role_edges(None, pairs, rows, model, MatchingConfig(), lambda pair: _explanation(pair, labels))
    assert {frozenset((e.left, e.right)) for e in edges} == {frozenset(("b|c", "a|c"))}


def test_role_support_may_not_be_stronger_than_family_support() -> None:
    with pytest.raises(ValueError, match="role_support_weight"):
        MatchingConfig(role_support_weight=7.0)


def _member(pid: str, household: str, role: str, gender: str, **fields: Any) -> dict[str, Any]:
    return {"id": pid, "household_id": household, "role_in_household": role, "gender": gender,
            "updated_at": "2026-11-01T00:00:00+03:00", **fields}


def test_a_role_pair_whose_stored_side_no_blocking_rule_finds_is_linked(
    tmp_path: Path, make_source: MakeSource
) -> None:
    """Night 1 stores a mother and her son; night 2 the agency registers the household again, the
    mother's surname mistyped and without a birth date, so no blocking key brings the stored mother in.
    Her son links to the stored son; the role pair links her to the stored mother — a record the night
    did not read as a candidate, which the clustering must still see (and every record of her id)."""
    folder = tmp_path / "drop"
    folder.mkdir()
    drop = {"conn_type": "fs", "extra": {"path": str(folder)}}
    source = make_source("file_drop", "mappings/ngo.yaml", drop, options={"patterns": ["*.json"]})
    boy = {"last_name": "Петров", "first_name": "Иван", "birth_date": "2015-03-04"}
    (folder / "1.json").write_text(json.dumps({"data": [
        _member("M1", "H1", "parent", "F", last_name="Петрова", first_name="Мария", birth_date="1985-03-07"),
        _member("C1", "H1", "child", "M", **boy)], "next_cursor": None}, ensure_ascii=False), "utf-8")
    source.pull()
    reconcile(source.url)
    (folder / "2.json").write_text(json.dumps({"data": [
        _member("M2", "H2", "parent", "F", last_name="Петрва", first_name="Мария"),
        _member("C2", "H2", "child", "M", **boy)], "next_cursor": None}, ensure_ascii=False), "utf-8")
    source.pull()
    night = reconcile(source.url)["persons"]  # the database is shared: other tests' records are here too
    assert night["role_supported"] >= 1
    persons = dict(query(source.url, "SELECT source_record_id, person_id FROM entity_link "
                         "WHERE record_kind = 'person' AND valid_to IS NULL AND source_code = %s",
                         (source.code,)))
    assert persons["M2"] == persons["M1"] != persons["C1"] == persons["C2"]
    [(explanation,)] = query(source.url, "SELECT explanation FROM entity_link WHERE source_record_id = 'M2' "
                             "AND record_kind = 'person' AND valid_to IS NULL AND source_code = %s",
                             (source.code,))
    assert explanation["family_support"] == "role"
    assert explanation["role"] == "mother"
